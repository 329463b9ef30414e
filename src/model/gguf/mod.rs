//! Memory-mapped GGUF v2/v3 reader: header, metadata, tensor table and tensor bytes.
//!
//! Every read is bounds-checked, so truncated or damaged files produce a [`ModelError`] naming
//! the file (and the tensor, where one is involved) instead of a panic.

mod cursor;
mod ggml_type;
mod parse;
mod tensor;
mod value;
pub mod writer;

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};

pub use ggml_type::GgmlType;
pub use tensor::TensorInfo;
pub use value::{GgufArray, GgufValue};

use super::error::ModelError;
use parse::ParseError;

/// The file's bytes: mapped from disk, or owned (tests, in-memory files).
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Owned(v) => v,
        }
    }
}

/// An opened GGUF file with its metadata and tensor table parsed and validated.
pub struct GgufFile {
    path: PathBuf,
    bytes: Bytes,
    version: u32,
    metadata: Vec<(String, GgufValue)>,
    key_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Memory-maps and parses `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let map = crate::io::map_readonly(path).map_err(io)?;
        Self::from_parts(path.to_path_buf(), Bytes::Mapped(map))
    }

    /// Parses an in-memory file; `path` only labels diagnostics.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, ModelError> {
        Self::from_parts(path.into(), Bytes::Owned(bytes))
    }

    fn from_parts(path: PathBuf, bytes: Bytes) -> Result<Self, ModelError> {
        let parsed = match parse::parse(&bytes) {
            Ok(p) => p,
            Err(ParseError::Magic(m)) => {
                return Err(ModelError::NotGguf {
                    path,
                    found: String::from_utf8_lossy(&m).into_owned(),
                });
            }
            Err(ParseError::Version(version)) => {
                return Err(ModelError::GgufVersion { path, version });
            }
            Err(ParseError::Read(e)) => {
                return Err(ModelError::GgufCorrupt {
                    path,
                    offset: e.offset,
                    what: e.what,
                });
            }
        };
        let file_len = bytes.len() as u64;
        for t in &parsed.tensors {
            let corrupt = |what: String| ModelError::TensorCorrupt {
                path: path.clone(),
                tensor: t.name.clone(),
                what,
            };
            let n_bytes = t.n_bytes().ok_or_else(|| {
                corrupt(format!(
                    "dimensions {:?} do not hold whole {} blocks",
                    t.dims, t.ty
                ))
            })?;
            if t.offset % parsed.alignment != 0 {
                return Err(corrupt(format!(
                    "data offset {} is not a multiple of the alignment {}",
                    t.offset, parsed.alignment
                )));
            }
            let start = parsed.data_offset.checked_add(t.offset);
            let end = start.and_then(|s| s.checked_add(n_bytes));
            if end.is_none_or(|e| e > file_len) {
                return Err(corrupt(format!(
                    "its {n_bytes} bytes at data offset {} run past the end of the file \
                     ({file_len} bytes; data section starts at {})",
                    t.offset, parsed.data_offset
                )));
            }
        }
        let key_index = parsed
            .metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let tensor_index = parsed
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Self {
            path,
            bytes,
            version: parsed.version,
            metadata: parsed.metadata,
            key_index,
            tensors: parsed.tensors,
            tensor_index,
            alignment: parsed.alignment,
            data_offset: parsed.data_offset,
        })
    }

    /// The file this was read from (labels diagnostics).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Alignment of tensor data (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute file offset where the tensor data section starts.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Metadata entries in file order.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &GgufValue)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// `general.architecture` (`llama`, …).
    pub fn architecture(&self) -> Result<&str, ModelError> {
        self.get_str("general.architecture")
    }

    fn missing(&self, key: &str) -> ModelError {
        ModelError::MissingKey {
            path: self.path.clone(),
            key: key.to_string(),
        }
    }

    fn mismatch(&self, key: &str, expected: &'static str, found: &GgufValue) -> ModelError {
        ModelError::KeyType {
            path: self.path.clone(),
            key: key.to_string(),
            expected,
            found: found.type_name(),
        }
    }

    /// Looks `key` up and converts it with `f`: `Ok(None)` when absent, an error when `f` fails.
    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        f: impl Fn(&'a GgufValue) -> Option<T>,
    ) -> Result<Option<T>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(v)
                .map(Some)
                .ok_or_else(|| self.mismatch(key, expected, v)),
        }
    }

    /// An integer key that fits `u32` (any GGUF integer type is accepted), if present.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, ModelError> {
        self.typed(key, "an integer in u32 range", |v| {
            v.as_integer().and_then(|i| u32::try_from(i).ok())
        })
    }

    /// An integer key that fits `u32`.
    pub fn get_u32(&self, key: &str) -> Result<u32, ModelError> {
        self.opt_u32(key)?.ok_or_else(|| self.missing(key))
    }

    /// An integer key that fits `u64`, if present.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, ModelError> {
        self.typed(key, "an integer in u64 range", |v| {
            v.as_integer().and_then(|i| u64::try_from(i).ok())
        })
    }

    /// An integer key that fits `u64`.
    pub fn get_u64(&self, key: &str) -> Result<u64, ModelError> {
        self.opt_u64(key)?.ok_or_else(|| self.missing(key))
    }

    /// An integer key that fits `i64`, if present.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, ModelError> {
        self.typed(key, "an integer in i64 range", |v| {
            v.as_integer().and_then(|i| i64::try_from(i).ok())
        })
    }

    /// A float key (FLOAT32 or FLOAT64) as `f32`, if present.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, ModelError> {
        self.typed(key, "FLOAT32", |v| v.as_float().map(|f| f as f32))
    }

    /// A float key (FLOAT32 or FLOAT64) as `f32`.
    pub fn get_f32(&self, key: &str) -> Result<f32, ModelError> {
        self.opt_f32(key)?.ok_or_else(|| self.missing(key))
    }

    /// A BOOL key, if present.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ModelError> {
        self.typed(key, "BOOL", |v| match v {
            GgufValue::Bool(b) => Some(*b),
            _ => None,
        })
    }

    /// A BOOL key.
    pub fn get_bool(&self, key: &str) -> Result<bool, ModelError> {
        self.opt_bool(key)?.ok_or_else(|| self.missing(key))
    }

    /// A STRING key, if present.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, ModelError> {
        self.typed(key, "STRING", |v| match v {
            GgufValue::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// A STRING key.
    pub fn get_str(&self, key: &str) -> Result<&str, ModelError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    /// An ARRAY key of any element type, if present.
    pub fn opt_array(&self, key: &str) -> Result<Option<&GgufArray>, ModelError> {
        self.typed(key, "ARRAY", |v| match v {
            GgufValue::Array(a) => Some(a),
            _ => None,
        })
    }

    /// An ARRAY key of any element type.
    pub fn get_array(&self, key: &str) -> Result<&GgufArray, ModelError> {
        self.opt_array(key)?.ok_or_else(|| self.missing(key))
    }

    /// An ARRAY[STRING] key, if present (vocabularies, merges).
    pub fn opt_str_array(&self, key: &str) -> Result<Option<&[String]>, ModelError> {
        self.typed(key, "ARRAY[STRING]", |v| match v {
            GgufValue::Array(GgufArray::Str(s)) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// An ARRAY[STRING] key.
    pub fn get_str_array(&self, key: &str) -> Result<&[String], ModelError> {
        self.opt_str_array(key)?.ok_or_else(|| self.missing(key))
    }

    /// An ARRAY[INT32] key, if present (token types).
    pub fn opt_i32_array(&self, key: &str) -> Result<Option<&[i32]>, ModelError> {
        self.typed(key, "ARRAY[INT32]", |v| match v {
            GgufValue::Array(GgufArray::I32(s)) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// An ARRAY[INT32] key.
    pub fn get_i32_array(&self, key: &str) -> Result<&[i32], ModelError> {
        self.opt_i32_array(key)?.ok_or_else(|| self.missing(key))
    }

    /// An ARRAY[FLOAT32] key, if present (token scores).
    pub fn opt_f32_array(&self, key: &str) -> Result<Option<&[f32]>, ModelError> {
        self.typed(key, "ARRAY[FLOAT32]", |v| match v {
            GgufValue::Array(GgufArray::F32(s)) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// An ARRAY[FLOAT32] key.
    pub fn get_f32_array(&self, key: &str) -> Result<&[f32], ModelError> {
        self.opt_f32_array(key)?.ok_or_else(|| self.missing(key))
    }

    /// The tensor table in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The table entry for `name`, if present.
    pub fn find_tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The table entry for `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, ModelError> {
        self.find_tensor(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
            })
    }

    /// The stored (possibly quantized) bytes of `name`.
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8], ModelError> {
        Ok(self.data(self.tensor(name)?))
    }

    /// The stored bytes of a table entry of this file.
    pub fn data(&self, info: &TensorInfo) -> &[u8] {
        // Bounds were validated at open for every entry; an entry from another file yields
        // an empty slice rather than a panic.
        let start = self.data_offset.saturating_add(info.offset) as usize;
        let len = info.n_bytes().unwrap_or(0) as usize;
        self.bytes
            .get(start..start.saturating_add(len))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
