//! Readers for the official task files in the `../shared/data` layout, with file:line diagnostics.

/// Where evaluation data is looked for when neither the eval stage nor `--data-dir` names a
/// directory: the working directory's `../shared/data`, which is where the repository's
/// checkout sits beside the shared inputs.
pub const DEFAULT_DIR: &str = "../shared/data";

pub mod arithmetic;
pub mod blimp;
pub mod csv;
pub mod json_array;
pub mod mmlu;
pub mod truthfulqa;

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{EvalError, Result};

/// Reads a whole data file, telling a missing file (E600) from an unreadable one (E601).
pub fn read_text(path: &Path, task: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EvalError::DataMissing {
                path: path.to_path_buf(),
                task: task.to_string(),
            }
        } else {
            EvalError::DataRead {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Parses every non-blank line of a JSON Lines file, keeping one-based line numbers.
pub fn jsonl<T: DeserializeOwned>(path: &Path, text: &str) -> Result<Vec<(usize, T)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|e| EvalError::DataMalformed {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push((i + 1, record));
    }
    Ok(out)
}

/// A malformed-record diagnostic (E602).
pub fn malformed(path: &Path, line: usize, message: impl Into<String>) -> EvalError {
    EvalError::DataMalformed {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}
