//! GPT-3 arithmetic data: `gpt3_arithmetic/<n>_digit_{addition,subtraction}.jsonl` (openai/gpt-3).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{jsonl, read_text};
use crate::eval::error::Result;

/// One problem as released: `context` is `"\n\nQ: What is 17 minus 14?\n\nA:"`, `completion` `" 3"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// The question in GPT-3's Q/A layout.
    pub context: String,
    /// The answer with its leading space.
    pub completion: String,
}

/// Where a file lives under the data directory.
pub fn path(data_dir: &Path, file: &str) -> PathBuf {
    data_dir.join("gpt3_arithmetic").join(file)
}

/// Reads every problem of one file.
pub fn load(data_dir: &Path, file: &str, task: &str) -> Result<Vec<Problem>> {
    let path = path(data_dir, file);
    let text = read_text(&path, task)?;
    Ok(jsonl(&path, &text)?.into_iter().map(|(_, p)| p).collect())
}
