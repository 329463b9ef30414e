//! Where a checkpoint's tokenizer lives, as the checkpoint readers find it.

use std::path::PathBuf;

/// Where a checkpoint's tokenizer lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerLocation {
    /// The vocabulary embedded in a GGUF file.
    Gguf(PathBuf),
    /// An HF `tokenizer.json`.
    HfJson(PathBuf),
    /// A SentencePiece `tokenizer.model`.
    SentencePiece(PathBuf),
    /// None found beside the weights.
    Missing,
}
