//! File output and input every stage shares: atomic writes and read-only maps.

pub mod atomic;
pub mod mmap;
pub mod sysmem;

pub use atomic::{StagedDir, write_atomic, write_atomic_with, write_json_atomic};
pub use mmap::map_readonly;
