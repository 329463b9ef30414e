//! Locating and memory-mapping the safetensors files of a checkpoint.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use crate::quant::error::QuantError;

fn read_err(path: &Path, e: impl std::fmt::Display) -> QuantError {
    QuantError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The weight files of a checkpoint: the file itself, or in a Hugging Face directory the shards
/// named by `model.safetensors.index.json`, else `model.safetensors`, else every `*.safetensors`.
pub fn safetensors_files(path: &Path) -> Result<Vec<PathBuf>, QuantError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(read_err(path, "no such file or directory"));
    }
    let index = path.join("model.safetensors.index.json");
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| read_err(&index, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| read_err(&index, e))?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| read_err(&index, "no `weight_map` object"))?;
        let mut files: Vec<PathBuf> = map
            .values()
            .filter_map(|v| v.as_str())
            .map(|f| path.join(f))
            .collect();
        files.sort();
        files.dedup();
        return Ok(files);
    }
    let single = path.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| read_err(path, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(read_err(path, "no .safetensors files in the directory"));
    }
    Ok(files)
}

/// A memory-mapped safetensors file.
pub struct Mapped {
    path: PathBuf,
    map: memmap2::Mmap,
}

impl Mapped {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> Result<Self, QuantError> {
        let map = crate::io::map_readonly(path).map_err(|e| read_err(path, e))?;
        Ok(Mapped {
            path: path.to_path_buf(),
            map,
        })
    }

    /// The parsed header over the mapped bytes.
    pub fn tensors(&self) -> Result<SafeTensors<'_>, QuantError> {
        SafeTensors::deserialize(&self.map).map_err(|e| read_err(&self.path, e))
    }

    /// The file's `__metadata__`.
    pub fn metadata(
        &self,
    ) -> Result<Option<std::collections::HashMap<String, String>>, QuantError> {
        let (_, meta) =
            SafeTensors::read_metadata(&self.map).map_err(|e| read_err(&self.path, e))?;
        Ok(meta.metadata().clone())
    }
}
