//! `tokenizer::load`: pick the format from the file.

use std::io::Read;
use std::path::Path;

use super::error::TokenizerError;
use super::{SentencePiece, Tokenizer};

/// Loads a SentencePiece `.model` (or a directory holding `tokenizer.model`).
pub fn load(path: &Path) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    let io = |source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        let candidate = path.join("tokenizer.model");
        if candidate.is_file() {
            return load(&candidate);
        }
        return Err(TokenizerError::UnknownFormat {
            path: path.to_path_buf(),
            why: "the directory holds no `tokenizer.model`".into(),
        });
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io)?;
    let head = &head[..n];
    if head.first() == Some(&0x0a) {
        // A ModelProto starts with field 1 (pieces), length-delimited: tag byte 0x0a.
        return Ok(Box::new(SentencePiece::from_file(path)?));
    }
    Err(TokenizerError::UnknownFormat {
        path: path.to_path_buf(),
        why: format!("unrecognised leading bytes {head:02x?}"),
    })
}
