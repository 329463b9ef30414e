//! Benchmarks behind `lpipe bench`: each prints a table with a reference measured in the same run.

pub mod forward;
pub mod qlora;
pub mod qlora_gpu;
pub mod quant;
pub mod score;
pub mod tokenize;
pub mod train;
