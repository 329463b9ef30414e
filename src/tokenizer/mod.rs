//! Tokenizers: GGUF-embedded BPE, SentencePiece `.model`, and HF `tokenizer.json`.

/// What every tokenizer offers to datasets, evaluation and generation.
pub trait Tokenizer: Send + Sync {
    /// Token ids for `text`; `add_bos` prepends the beginning-of-sequence token when the model has one.
    fn encode(&self, text: &str, add_bos: bool) -> Vec<u32>;
    /// Text for `ids` (special tokens skipped).
    fn decode(&self, ids: &[u32]) -> String;
    /// Beginning-of-sequence token, if the model defines one.
    fn bos_id(&self) -> Option<u32>;
    /// End-of-sequence token appended to training examples.
    fn eos_id(&self) -> Option<u32>;
    /// Vocabulary size.
    fn vocab_size(&self) -> usize;
}
