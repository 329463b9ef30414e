//! File output and input every stage shares: atomic writes and read-only maps.

pub mod atomic;
pub mod mmap;
pub mod sysmem;
pub mod tfevents;

/// Keeps a name (a pipeline's, a run's) usable as one path component: anything but ASCII
/// letters, digits, `-`, `_` and `.` becomes `_`, and leading or trailing dots go.
pub fn path_component(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.trim_matches('.') {
        "" => "_".to_string(),
        s => s.to_string(),
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`), `localhost` when it cannot be read: it
/// labels event files and run locks, so a user can tell which node wrote them.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub use atomic::{StagedDir, write_atomic, write_atomic_with, write_json_atomic};
pub use mmap::map_readonly;
