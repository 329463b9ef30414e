//! The token that stands for an empty context (BLiMP's), as lm-evaluation-harness chooses it.
//!
//! `HFLM.prefix_token_id` is the tokenizer's `bos_token_id`, else its `eos_token_id`, whether or not
//! the tokenizer prepends BOS. `Tokenizer::bos_id` reports only a BOS that encoding adds (SmolLM2's
//! GGUF says `add_bos_token = false`), so the checkpoint's metadata is read instead.

use crate::model::gguf::GgufFile;

/// `tokenizer.ggml.bos_token_id`, else `tokenizer.ggml.eos_token_id`, of a GGUF checkpoint.
pub fn gguf_prefix_token(file: &GgufFile) -> Option<u32> {
    let id = |key: &str| file.opt_u32(key).ok().flatten();
    id("tokenizer.ggml.bos_token_id").or_else(|| id("tokenizer.ggml.eos_token_id"))
}
