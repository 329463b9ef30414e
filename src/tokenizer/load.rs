//! `tokenizer::load`: pick the format from the file.

use std::io::Read;
use std::path::Path;

use super::error::TokenizerError;
use super::{SentencePiece, Tokenizer, gguf, hf_json};

/// Loads a tokenizer, choosing the format from the file's first bytes: `GGUF` checkpoints, HF
/// `tokenizer.json` (JSON object; `tokenizer_config.json` beside it supplies BOS/EOS), or a
/// SentencePiece `.model` protobuf. A directory is searched for `tokenizer.json`, then
/// `tokenizer.model`, then a single `*.gguf`.
pub fn load(path: &Path) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    if path.is_dir() {
        return load(&find_in_dir(path)?);
    }
    let io = |source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io)?;
    let head = &head[..n];
    if head.starts_with(b"GGUF") {
        return gguf::from_gguf(path);
    }
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(Box::new(hf_json::from_file(path)?));
    }
    // A ModelProto starts with field 1 (pieces), length-delimited: tag byte 0x0a.
    if head.first() == Some(&0x0a) {
        return Ok(Box::new(SentencePiece::from_file(path)?));
    }
    Err(TokenizerError::UnknownFormat {
        path: path.to_path_buf(),
        why: format!(
            "unrecognised leading bytes {:02x?}",
            &head[..head.len().min(8)]
        ),
    })
}

fn find_in_dir(dir: &Path) -> Result<std::path::PathBuf, TokenizerError> {
    for name in ["tokenizer.json", "tokenizer.model"] {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let ggufs: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| TokenizerError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    match ggufs.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(TokenizerError::UnknownFormat {
            path: dir.to_path_buf(),
            why: "the directory holds no `tokenizer.json`, `tokenizer.model` or `.gguf`".into(),
        }),
        _ => Err(TokenizerError::UnknownFormat {
            path: dir.to_path_buf(),
            why: format!(
                "the directory holds {} `.gguf` files; name one",
                ggufs.len()
            ),
        }),
    }
}
