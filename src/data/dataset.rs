//! A tokenized dataset in flat storage: all token ids in one buffer, sliced per example.

use serde::{Deserialize, Serialize};

/// The label PyTorch's cross-entropy ignores; used on masked prompt tokens.
pub const IGNORE_INDEX: i64 = -100;

/// Token ids of every example, concatenated, with per-example offsets and prompt lengths.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizedDataset {
    pub(crate) ids: Vec<u32>,
    /// `offsets[i]..offsets[i + 1]` are example `i`'s ids; `offsets.len() == len() + 1`.
    pub(crate) offsets: Vec<u64>,
    pub(crate) prompt_lens: Vec<u32>,
    /// Length before `max_seq_len` truncation (what statistics describe).
    pub(crate) full_lens: Vec<u32>,
    pub(crate) mask_prompt: bool,
}

/// One example, borrowed from a [`TokenizedDataset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Example<'a> {
    /// Model input: prompt, response and EOS (possibly truncated).
    pub input_ids: &'a [u32],
    /// How many leading tokens belong to the prompt.
    pub prompt_len: usize,
    /// Whether prompt tokens are excluded from the loss.
    pub mask_prompt: bool,
}

impl Example<'_> {
    /// Labels aligned with `input_ids` (LitGPT convention: the loss shifts them by one);
    /// prompt positions are [`IGNORE_INDEX`] when `mask_prompt` is set.
    pub fn labels(&self) -> Vec<i64> {
        self.input_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                if self.mask_prompt && i < self.prompt_len {
                    IGNORE_INDEX
                } else {
                    i64::from(id)
                }
            })
            .collect()
    }

    /// Number of positions that carry a loss.
    pub fn trained_tokens(&self) -> usize {
        if self.mask_prompt {
            self.input_ids.len().saturating_sub(self.prompt_len)
        } else {
            self.input_ids.len()
        }
    }
}

impl TokenizedDataset {
    /// An empty dataset whose examples mask their prompts when `mask_prompt` is set.
    pub fn new(mask_prompt: bool) -> Self {
        TokenizedDataset {
            offsets: vec![0],
            mask_prompt,
            ..Default::default()
        }
    }

    /// Appends one example; `prompt_len` is clamped to the ids, `full_len` is the pre-truncation length.
    pub fn push(&mut self, ids: &[u32], prompt_len: usize, full_len: usize) {
        self.ids.extend_from_slice(ids);
        self.offsets.push(self.ids.len() as u64);
        self.prompt_lens.push(prompt_len.min(ids.len()) as u32);
        self.full_lens.push(full_len.max(ids.len()) as u32);
    }

    /// Appends every example of `other` (same masking assumed).
    pub fn extend(&mut self, other: &TokenizedDataset) {
        let base = self.ids.len() as u64;
        self.ids.extend_from_slice(&other.ids);
        self.offsets
            .extend(other.offsets.iter().skip(1).map(|&o| base + o));
        self.prompt_lens.extend_from_slice(&other.prompt_lens);
        self.full_lens.extend_from_slice(&other.full_lens);
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.prompt_lens.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.prompt_lens.is_empty()
    }

    /// Total number of tokens (after truncation).
    pub fn total_tokens(&self) -> usize {
        self.ids.len()
    }

    /// Whether prompt tokens are masked out of the loss.
    pub fn mask_prompt(&self) -> bool {
        self.mask_prompt
    }

    /// Example `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<Example<'_>> {
        let start = *self.offsets.get(index)? as usize;
        let end = *self.offsets.get(index + 1)? as usize;
        Some(Example {
            input_ids: self.ids.get(start..end)?,
            prompt_len: *self.prompt_lens.get(index)? as usize,
            mask_prompt: self.mask_prompt,
        })
    }

    /// Every example in order.
    pub fn iter(&self) -> impl Iterator<Item = Example<'_>> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Pre-truncation lengths (including any BOS/EOS the settings add).
    pub fn full_lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.full_lens.iter().map(|&l| l as usize)
    }

    /// Whether the internal arrays agree (checked after loading a cache file).
    pub(crate) fn is_consistent(&self) -> bool {
        let n = self.prompt_lens.len();
        self.offsets.len() == n + 1
            && self.full_lens.len() == n
            && self.offsets.first() == Some(&0)
            && self.offsets.last() == Some(&(self.ids.len() as u64))
            && self.offsets.windows(2).all(|w| w[0] <= w[1])
            && (0..n).all(|i| self.prompt_lens[i] as u64 <= self.offsets[i + 1] - self.offsets[i])
    }
}
