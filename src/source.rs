//! Loaded source files, so diagnostics can show the text they point into.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

use crate::span::FileId;

/// One file's name (as shown in diagnostics), path and text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name diagnostics show (the path as given, or `--set`).
    pub name: String,
    /// The path on disk, if the text came from a file.
    pub path: Option<PathBuf>,
    /// The full text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A source file from a path and its text.
    pub fn new(path: &Path, text: impl Into<Arc<str>>) -> SourceFile {
        SourceFile {
            name: path.display().to_string(),
            path: Some(path.to_path_buf()),
            text: text.into(),
        }
    }

    /// A source that did not come from a file (e.g. a `--set` argument).
    pub fn virtual_file(name: &str, text: impl Into<Arc<str>>) -> SourceFile {
        SourceFile {
            name: name.to_string(),
            path: None,
            text: text.into(),
        }
    }

    /// The text as a miette source with the file's name.
    pub fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.name.clone(), self.text.clone())
    }

    /// The directory relative paths in this file resolve against.
    pub fn dir(&self) -> PathBuf {
        match self.path.as_ref().and_then(|p| p.parent()) {
            Some(dir) => dir.to_path_buf(),
            None => PathBuf::new(),
        }
    }
}

/// Every file loaded while checking a pipeline, indexed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    /// The file with this id (an empty placeholder if the id is unknown).
    pub fn get(&self, id: FileId) -> SourceFile {
        match self.files.get(id.0 as usize) {
            Some(file) => file.clone(),
            None => SourceFile::virtual_file("<unknown>", ""),
        }
    }

    /// The id of an already loaded path, if any.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path.as_deref() == Some(path))
            .and_then(|i| u32::try_from(i).ok())
            .map(FileId)
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is loaded.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
