//! Templated records → token ids: prompt + response (+ EOS), optional BOS, truncation, masking.

use serde::{Deserialize, Serialize};

use super::dataset::TokenizedDataset;
use super::error::DataError;
use super::record::Record;
use super::template::Template;
use crate::tokenizer::Tokenizer;

/// How examples are tokenized (the `dataset` block's `max_seq_len`, `mask_prompt`, `bos`, `eos`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenizeSettings {
    /// Examples are cut to this many tokens (LitGPT keeps the start); `None` keeps them whole.
    pub max_seq_len: Option<usize>,
    /// Exclude prompt tokens from the loss (labels −100), as LitGPT's `mask_prompt`.
    pub mask_prompt: bool,
    /// Prepend the tokenizer's BOS token (Llama 2: yes; SmolLM2: no).
    pub add_bos: bool,
    /// Append the tokenizer's EOS token so the model learns to stop.
    pub add_eos: bool,
}

impl Default for TokenizeSettings {
    fn default() -> Self {
        TokenizeSettings {
            max_seq_len: None,
            mask_prompt: false,
            add_bos: false,
            add_eos: true,
        }
    }
}

/// One encoded example before it joins a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids after truncation.
    pub ids: Vec<u32>,
    /// Leading tokens that belong to the prompt.
    pub prompt_len: usize,
    /// Length before truncation.
    pub full_len: usize,
}

/// Encodes `record` with `template`.
///
/// The prompt and the full text are encoded separately and the prompt length is their common
/// prefix, so a tokenizer that merges across the prompt/response boundary masks one token less
/// instead of mislabelling one.
pub fn encode_record(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    record: &Record,
    settings: &TokenizeSettings,
) -> Result<Encoded, DataError> {
    let prompt = template.prompt(record);
    let full = format!("{prompt}{}", template.response(record));
    let prompt_ids = tokenizer.encode(&prompt, settings.add_bos);
    let mut ids = tokenizer.encode(&full, settings.add_bos);
    let prompt_len = prompt_ids
        .iter()
        .zip(&ids)
        .take_while(|(a, b)| a == b)
        .count();
    if settings.add_eos {
        ids.push(tokenizer.eos_id().ok_or(DataError::NoEos)?);
    }
    let full_len = ids.len();
    if let Some(max) = settings.max_seq_len {
        ids.truncate(max);
    }
    Ok(Encoded {
        prompt_len: prompt_len.min(ids.len()),
        ids,
        full_len,
    })
}

/// Encodes every record, in order, on all available cores.
pub fn encode_all(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    records: &[Record],
    settings: &TokenizeSettings,
) -> Result<TokenizedDataset, DataError> {
    if settings.add_eos && tokenizer.eos_id().is_none() {
        return Err(DataError::NoEos);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = records.len().div_ceil(threads).max(1);
    let parts: Vec<Result<TokenizedDataset, DataError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut out = TokenizedDataset::new(settings.mask_prompt);
                    for record in part {
                        let e = encode_record(tokenizer, template, record, settings)?;
                        out.push(&e.ids, e.prompt_len, e.full_len);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut dataset = TokenizedDataset::new(settings.mask_prompt);
    for part in parts {
        dataset.extend(&part?);
    }
    Ok(dataset)
}
