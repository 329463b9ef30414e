//! Benchmarks behind `lpipe bench`: each prints a table with a reference measured in the same run.
pub mod quant;
