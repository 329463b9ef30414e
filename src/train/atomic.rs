//! Atomic outputs: a reader sees the old file or the new one, never half of one.
//!
//! Files are written to a sibling temporary, flushed to disk and renamed over the target;
//! directories are assembled under a temporary name and renamed into place.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::TrainError;

/// A sibling path `.<name>.tmp-<pid>` in the same directory (rename is only atomic there).
fn temp_sibling(path: &Path) -> PathBuf {
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

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the directory).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let parent = parent_of(path);
    fs::create_dir_all(parent).map_err(|e| TrainError::io("create directory", parent, e))?;
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| TrainError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| TrainError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| TrainError::io("sync", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| TrainError::io("rename into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(parent);
    Ok(())
}

/// A directory being assembled under a temporary name; [`StagedDir::commit`] renames it into place.
#[derive(Debug)]
pub struct StagedDir {
    tmp: PathBuf,
    target: PathBuf,
}

impl StagedDir {
    /// Starts assembling `target` (any stale temporary of this process is removed first).
    pub fn new(target: &Path) -> Result<Self, TrainError> {
        let parent = parent_of(target);
        fs::create_dir_all(parent).map_err(|e| TrainError::io("create directory", parent, e))?;
        let tmp = temp_sibling(target);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| TrainError::io("remove", &tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| TrainError::io("create directory", &tmp, e))?;
        Ok(StagedDir {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Where files of the staged directory are written.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Writes one file inside the staged directory (flushed; atomicity comes from the commit).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), TrainError> {
        let path = self.tmp.join(name);
        let mut f = File::create(&path).map_err(|e| TrainError::io("create", &path, e))?;
        f.write_all(bytes)
            .map_err(|e| TrainError::io("write", &path, e))?;
        f.sync_all().map_err(|e| TrainError::io("sync", &path, e))
    }

    /// Renames the staged directory to its target, replacing an existing one.
    pub fn commit(self) -> Result<PathBuf, TrainError> {
        sync_dir(&self.tmp);
        let parent = parent_of(&self.target).to_path_buf();
        // rename(2) cannot replace a non-empty directory: move the old one aside first.
        let old = if self.target.exists() {
            let old = self.target.with_file_name(format!(
                ".{}.old-{}",
                self.target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            ));
            fs::rename(&self.target, &old)
                .map_err(|e| TrainError::io("move aside", &self.target, e))?;
            Some(old)
        } else {
            None
        };
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| TrainError::io("rename into place", &self.target, e))?;
        sync_dir(&parent);
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

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lpipe-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_file_replaces_content_and_leaves_no_temp() {
        let dir = scratch("file");
        let p = dir.join("a.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn staged_dir_replaces_existing_and_cleans_up_when_dropped() {
        let dir = scratch("dir");
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
