//! Planning: stage graph, execution order, parameter counts and memory estimates.

pub mod graph;
pub mod lengths;
pub mod memory;
pub mod params;
pub mod render;
pub mod schedule;
pub mod slots;
