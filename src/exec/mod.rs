//! Executor: walks the stage graph, caches artifacts by content hash, writes run directories.

pub mod atomic;
pub mod rundir;
pub mod scorer;
