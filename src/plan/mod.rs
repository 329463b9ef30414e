//! Planning: stage graph, execution order, parameter counts and memory estimates.

pub mod arch;
pub mod memory;
pub mod params;
