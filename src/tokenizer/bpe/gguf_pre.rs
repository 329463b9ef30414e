//! Pre-tokenizers named by GGUF's `tokenizer.ggml.pre`, following llama.cpp's `llama-vocab.cpp`
//! and the upstream HF `tokenizer.json` of each model family.

use super::pretokenize::{PreTokenizer, SplitBehavior, SplitPattern};
use crate::tokenizer::error::TokenizerError;

/// Llama 3 (`llama-bpe`): contractions case-insensitive, numbers in groups of up to three.
pub const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 2: as Llama 3 but single digits.
pub const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn byte_level(use_regex: bool) -> PreTokenizer {
    PreTokenizer::ByteLevel {
        add_prefix_space: false,
        use_regex,
    }
}

fn regex_then_bytes(pattern: &str) -> Result<PreTokenizer, TokenizerError> {
    let re = fancy_regex::Regex::new(pattern).map_err(|e| TokenizerError::Pattern {
        path: "<memory>".into(),
        what: format!("`{pattern}`: {e}"),
    })?;
    Ok(PreTokenizer::Sequence(vec![
        PreTokenizer::Split {
            pattern: SplitPattern::Regex(re),
            behavior: SplitBehavior::Isolated,
            invert: false,
        },
        byte_level(false),
    ]))
}

/// The pre-tokenizer for a `tokenizer.ggml.pre` value.
pub fn pre_tokenizer(name: &str) -> Result<PreTokenizer, TokenizerError> {
    match name {
        // The GPT-2 pattern alone (also what transformers' GGUF loader uses for unknown names).
        "" | "default" | "gpt2" | "gpt-2" => Ok(byte_level(true)),
        // SmolLM/SmolLM2: upstream tokenizer.json is Sequence[Digits(individual), ByteLevel];
        // llama.cpp isolates every \p{N} first, which is the same split.
        "smollm" | "starcoder" | "refact" => Ok(PreTokenizer::Sequence(vec![
            PreTokenizer::Digits { individual: true },
            byte_level(true),
        ])),
        "llama-bpe" | "llama3" | "llama-v3" | "dbrx" | "smaug-bpe" => {
            regex_then_bytes(LLAMA3_PATTERN)
        }
        "qwen2" | "qwen35" => regex_then_bytes(QWEN2_PATTERN),
        other => Err(TokenizerError::Unsupported {
            path: "<memory>".into(),
            feature: format!("the GGUF pre-tokenizer `{other}`"),
        }),
    }
}
