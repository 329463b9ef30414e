//! The machine's memory as Linux reports it (`/proc`), for scheduling runs side by side.

use std::path::Path;

/// `MemAvailable` of `/proc/meminfo` in bytes: what new processes can use without swapping.
pub fn mem_available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string(Path::new("/proc/meminfo")).ok()?;
    kib_field(&text, "MemAvailable:")
}

/// This process's peak resident set (`VmHWM` of `/proc/self/status`) in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string(Path::new("/proc/self/status")).ok()?;
    kib_field(&text, "VmHWM:")
}

/// `Name:   1234 kB` → bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let mut parts = line.get(name.len()..)?.split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_kib_become_bytes() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(kib_field(meminfo, "MemAvailable:"), Some(2048 * 1024));
        assert_eq!(kib_field(meminfo, "SwapTotal:"), None);
        assert_eq!(kib_field("MemAvailable: lots kB\n", "MemAvailable:"), None);
        assert_eq!(kib_field("MemAvailable: 1 MB\n", "MemAvailable:"), None);
    }

    #[test]
    fn this_machine_reports_memory() {
        // Linux is where lpipe runs its CPU sweeps; elsewhere the scheduler runs sequentially.
        if Path::new("/proc/meminfo").is_file() {
            assert!(mem_available_bytes().is_some_and(|b| b > 0));
            assert!(peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
