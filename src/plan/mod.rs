//! Planning: stage graph, execution order, parameter counts and memory estimates.
