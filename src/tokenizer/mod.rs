//! Tokenizers: GGUF-embedded BPE, SentencePiece `.model`, and HF `tokenizer.json`.
//!
//! Every format is reproduced token for token against its reference implementation
//! (sentencepiece 0.2, HF `tokenizers`); see `docs/tokenizers.md`.

pub mod bpe;
mod byte_level;
mod cache;
pub mod error;
mod fx;
pub mod gguf;
pub mod hf_json;
mod load;
mod merge;
pub mod sentencepiece;
pub mod special;
pub mod token_type;

pub use bpe::{BpeConfig, BpeTokenizer};
pub use error::TokenizerError;
pub use load::load;
pub use sentencepiece::SentencePiece;
pub use special::AddedToken;
pub use token_type::TokenType;

/// What every tokenizer offers to datasets, evaluation and generation.
pub trait Tokenizer: Send + Sync {
    /// Token ids for `text`; `add_bos` prepends the beginning-of-sequence token when the model has one.
    fn encode(&self, text: &str, add_bos: bool) -> Vec<u32>;
    /// Text for `ids` (special tokens skipped).
    fn decode(&self, ids: &[u32]) -> String;
    /// The beginning-of-sequence token `encode(_, true)` prepends; `None` when the model's
    /// convention adds none (SmolLM2: `add_bos_token = false`).
    fn bos_id(&self) -> Option<u32>;
    /// End-of-sequence token appended to training examples.
    fn eos_id(&self) -> Option<u32>;
    /// Vocabulary size.
    fn vocab_size(&self) -> usize;
    /// The id of a vocabulary entry given its exact text (e.g. `<|im_end|>`, `▁the`).
    fn token_to_id(&self, _token: &str) -> Option<u32> {
        None
    }
    /// The vocabulary text of `id`, as stored in the file.
    fn id_to_token(&self, _id: u32) -> Option<&str> {
        None
    }
    /// Encodes many texts on all cores; the result is in input order and equals
    /// `texts.iter().map(|t| self.encode(t, add_bos))`.
    fn encode_batch(&self, texts: &[&str], add_bos: bool) -> Vec<Vec<u32>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads <= 1 || texts.len() < 2 * threads {
            return texts.iter().map(|t| self.encode(t, add_bos)).collect();
        }
        let chunk = texts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = texts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|t| self.encode(t, add_bos))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }
}
