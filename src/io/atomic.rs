//! Atomic outputs: a reader sees the old file or the new one, never half of one.
//!
//! Files are written to a sibling temporary, flushed and renamed over the target, then the
//! directory entry is flushed; directories are assembled under a temporary name and renamed into
//! place. A crash or Ctrl-C can leave a stray `.<name>.tmp-<pid>`, never a truncated output.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Runs `fill` on a temporary file next to `path`, then renames it over `path`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let parent = parent_of(path);
    fs::create_dir_all(parent)?;
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(parent);
    Ok(())
}

/// A sibling path `.<name>.tmp-<pid>` in the same directory (rename is only atomic there).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Flushes a directory entry so a completed rename survives power loss.
fn sync_dir(dir: &Path) {
    // Some filesystems refuse to open or fsync directories; the rename itself is still atomic.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A directory being assembled under a temporary name; [`StagedDir::commit`] renames it into place.
#[derive(Debug)]
pub struct StagedDir {
    tmp: PathBuf,
    target: PathBuf,
}

impl StagedDir {
    /// Starts assembling `target` (any stale temporary of this process is removed first).
    pub fn new(target: &Path) -> io::Result<Self> {
        fs::create_dir_all(parent_of(target))?;
        let tmp = temp_sibling(target);
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir(&tmp)?;
        Ok(StagedDir {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Where files of the staged directory are written.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The directory it will become.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes one file inside the staged directory (flushed; atomicity comes from the commit).
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut f = File::create(self.tmp.join(name))?;
        f.write_all(bytes)?;
        f.sync_all()
    }

    /// Renames the staged directory to its target, replacing an existing one.
    pub fn commit(self) -> io::Result<PathBuf> {
        sync_dir(&self.tmp);
        // rename(2) cannot replace a non-empty directory: move the old one aside first.
        let old = if self.target.exists() {
            let name = self
                .target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let old = self
                .target
                .with_file_name(format!(".{name}.old-{}", std::process::id()));
            fs::rename(&self.target, &old)?;
            Some(old)
        } else {
            None
        };
        fs::rename(&self.tmp, &self.target)?;
        sync_dir(parent_of(&self.target));
        if let Some(old) = old {
            let _ = fs::remove_dir_all(old);
        }
        Ok(self.target.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        // An uncommitted stage (an error midway) leaves nothing behind.
        if self.tmp.exists() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::scratch;

    #[test]
    fn replaces_existing_file_and_leaves_no_temp() {
        let dir = scratch("atomic");
        let path = dir.join("nested/out.json");
        write_atomic(&path, b"one").unwrap();
        write_json_atomic(&path, &serde_json::json!({"two": 2})).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"two\": 2"), "{text}");
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_keeps_old_content() {
        let dir = scratch("atomic-fail");
        let path = dir.join("keep.txt");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |f| {
            f.write_all(b"partial")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn staged_dir_replaces_existing_and_cleans_up_when_dropped() {
        let dir = scratch("atomic-dir");
        let target = dir.join("ckpt");
        let s = StagedDir::new(&target).unwrap();
        s.write("x", b"1").unwrap();
        s.commit().unwrap();
        let s = StagedDir::new(&target).unwrap();
        s.write("y", b"2").unwrap();
        s.commit().unwrap();
        assert!(!target.join("x").exists());
        assert_eq!(fs::read(target.join("y")).unwrap(), b"2");
        let s = StagedDir::new(&dir.join("other")).unwrap();
        s.write("z", b"3").unwrap();
        drop(s);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }
}
