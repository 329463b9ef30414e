//! Atomic output: everything is written beside its destination and renamed into place.

use std::path::{Path, PathBuf};

use crate::quant::error::QuantError;

/// A temporary sibling of `dest` (same directory, so the final rename is atomic).
pub fn temp_sibling(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Renames `tmp` onto `dest`.
pub fn commit(tmp: &Path, dest: &Path) -> Result<(), QuantError> {
    std::fs::rename(tmp, dest).map_err(|e| write_err(dest, e))
}

/// A write error for `path`.
pub fn write_err(path: &Path, e: impl std::fmt::Display) -> QuantError {
    QuantError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), QuantError> {
    let tmp = temp_sibling(dest);
    std::fs::write(&tmp, bytes).map_err(|e| write_err(&tmp, e))?;
    commit(&tmp, dest)
}
