//! Tokenized datasets cached by content hash under `<cache_dir>/datasets/<key>.safetensors`.
//!
//! The key is the SHA-256 of everything the tokens depend on: the source bytes (or the
//! synthetic spec), the template, the tokenizer's identity and behaviour, the settings and the
//! split. Files are safetensors (readable from Python) and written atomically.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

use super::alpaca::hex;
use super::dataset::TokenizedDataset;
use super::error::DataError;
use super::split::Split;
use crate::tokenizer::Tokenizer;

/// Bump when the file layout or the tokenization semantics change.
pub const FORMAT: &str = "lpipe-tokenized-v1";

/// Text whose encoding fingerprints a tokenizer: words, digits, whitespace runs, non-Latin
/// script and special-token markup all exercise different merge rules.
const PROBE: &str = "Below is an instruction.\n\n### Response:\nWhat is 59 minus 38? 21\t  Ünïcödé 日本語 🙂 <|im_start|>user</s>";

/// Builds a cache key from named parts, in order.
#[derive(Clone, Debug, Default)]
pub struct KeyBuilder {
    hasher: Sha256,
}

impl KeyBuilder {
    /// A key for the current [`FORMAT`].
    pub fn new() -> Self {
        let mut builder = KeyBuilder {
            hasher: Sha256::new(),
        };
        builder.part("format", FORMAT);
        builder
    }

    /// Adds `name = value`; lengths are hashed too, so parts cannot run into each other.
    pub fn part(&mut self, name: &str, value: &str) -> &mut Self {
        for piece in [name, value] {
            self.hasher.update((piece.len() as u64).to_le_bytes());
            self.hasher.update(piece.as_bytes());
        }
        self
    }

    /// Adds the tokenizer: the caller's identity (e.g. the file's SHA-256) and a fingerprint of its behaviour.
    pub fn tokenizer(&mut self, identity: &str, tokenizer: &dyn Tokenizer) -> &mut Self {
        let ids = tokenizer.encode(PROBE, true);
        let behaviour = format!(
            "vocab={} bos={:?} eos={:?} probe={ids:?}",
            tokenizer.vocab_size(),
            tokenizer.bos_id(),
            tokenizer.eos_id()
        );
        self.part("tokenizer", identity)
            .part("tokenizer-behaviour", &behaviour)
    }

    /// The key as lowercase hex.
    pub fn finish(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

/// `<root>/datasets/<key>.safetensors`.
pub fn cache_path(root: &Path, key: &str) -> PathBuf {
    root.join("datasets").join(format!("{key}.safetensors"))
}

/// Writes `dataset` and `split` under `key` atomically (temp file + rename).
pub fn save(
    path: &Path,
    key: &str,
    dataset: &TokenizedDataset,
    split: &Split,
    info: &str,
) -> Result<(), DataError> {
    let io_err = |source| DataError::CacheWrite {
        path: path.to_path_buf(),
        source,
    };
    let to_io = |e: safetensors::SafeTensorError| io_err(std::io::Error::other(e.to_string()));
    let buffers = [
        ("full_lens", Dtype::U32, le_u32(&dataset.full_lens)),
        ("ids", Dtype::U32, le_u32(&dataset.ids)),
        (
            "offsets",
            Dtype::U64,
            dataset
                .offsets
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        ("prompt_lens", Dtype::U32, le_u32(&dataset.prompt_lens)),
        ("train", Dtype::U32, le_u32(&split.train)),
        ("validation", Dtype::U32, le_u32(&split.validation)),
    ];
    let mut views = Vec::new();
    for (name, dtype, bytes) in &buffers {
        let width = if *dtype == Dtype::U64 { 8 } else { 4 };
        views.push((
            *name,
            TensorView::new(*dtype, vec![bytes.len() / width], bytes).map_err(to_io)?,
        ));
    }
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("key".to_string(), key.to_string()),
        ("mask_prompt".to_string(), dataset.mask_prompt.to_string()),
        ("info".to_string(), info.to_string()),
    ]);
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(to_io)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err)?;
    // Unique per process and call, so concurrent writers never share a temp file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("dataset"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io_err)
}

/// Reads a cache file; `Ok(None)` when absent, [`DataError::CacheCorrupt`] when unusable.
pub fn load(path: &Path, key: &str) -> Result<Option<(TokenizedDataset, Split)>, DataError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(corrupt(path, e.to_string())),
    };
    let (_, metadata) =
        SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(path, e.to_string()))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(FORMAT)
        || meta.get("key").map(String::as_str) != Some(key)
    {
        return Err(corrupt(
            path,
            format!("not a `{FORMAT}` file for key {key}"),
        ));
    }
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(path, e.to_string()))?;
    let u32s = |name: &str| -> Result<Vec<u32>, DataError> {
        let view = tensors
            .tensor(name)
            .map_err(|e| corrupt(path, e.to_string()))?;
        if view.dtype() != Dtype::U32 {
            return Err(corrupt(
                path,
                format!("`{name}` is {:?}, expected U32", view.dtype()),
            ));
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let offsets_view = tensors
        .tensor("offsets")
        .map_err(|e| corrupt(path, e.to_string()))?;
    if offsets_view.dtype() != Dtype::U64 {
        return Err(corrupt(path, "`offsets` is not U64".into()));
    }
    let offsets = offsets_view
        .data()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let dataset = TokenizedDataset {
        ids: u32s("ids")?,
        offsets,
        prompt_lens: u32s("prompt_lens")?,
        full_lens: u32s("full_lens")?,
        mask_prompt: meta.get("mask_prompt").map(String::as_str) == Some("true"),
    };
    let split = Split {
        train: u32s("train")?,
        validation: u32s("validation")?,
    };
    let n = dataset.len() as u32;
    if !dataset.is_consistent() || split.train.iter().chain(&split.validation).any(|&i| i >= n) {
        return Err(corrupt(
            path,
            "offsets, lengths or split indices disagree".into(),
        ));
    }
    Ok(Some((dataset, split)))
}

fn le_u32(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn corrupt(path: &Path, message: String) -> DataError {
    DataError::CacheCorrupt {
        path: path.to_path_buf(),
        message,
    }
}

/// A cheap identity for a tokenizer file (path, size, modification time) to pass to
/// [`KeyBuilder::tokenizer`]; hashing a multi-gigabyte GGUF would cost more than tokenizing,
/// and the behavioural fingerprint already catches a different vocabulary behind the same name.
pub fn tokenizer_identity(path: &Path) -> String {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let meta = std::fs::metadata(&canonical).ok();
    let len = meta.as_ref().map_or(0, |m| m.len());
    let modified = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} len={len} mtime={modified}", canonical.display())
}
