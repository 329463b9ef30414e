//! Rank-ordered BPE (GPT-2 byte-level, or Metaspace with byte fallback) with HF `tokenizers`
//! semantics: added tokens, normalizer, pre-tokenizer, merges by rank, decoder.

pub mod decode;
mod encode;
pub mod gguf_pre;
pub mod normalize;
pub mod pretokenize;

use self::decode::Decoder;
use self::normalize::Normalizer;
use self::pretokenize::PreTokenizer;
use super::Tokenizer;
use super::byte_level::byte_to_char;
use super::cache::WordCache;
use super::error::TokenizerError;
use super::fx::FxHashMap;
use super::special::{AddedToken, SpecialMatcher};
use super::token_type::TokenType;

/// Everything a BPE tokenizer is made of, independent of the file it came from.
#[derive(Debug, Clone, Default)]
pub struct BpeConfig {
    /// Token texts in id order (byte-level or `▁` form, as stored).
    pub tokens: Vec<String>,
    /// Kind of each token (same length as `tokens`, or empty for all-normal).
    pub token_types: Vec<TokenType>,
    /// Merges in rank order, as (left, right) token texts.
    pub merges: Vec<(String, String)>,
    /// Applied to each run of ordinary text.
    pub normalizer: Option<Normalizer>,
    /// Cuts text into words.
    pub pre_tokenizer: Option<PreTokenizer>,
    /// Turns tokens back into text.
    pub decoder: Option<Decoder>,
    /// Tokens matched whole in the text (ids may lie beyond `tokens`).
    pub added_tokens: Vec<AddedToken>,
    /// The unknown token.
    pub unk: Option<u32>,
    /// Unknown characters become `<0xNN>` tokens.
    pub byte_fallback: bool,
    /// Runs of unknown characters become one unknown token.
    pub fuse_unk: bool,
    /// A word found whole in the vocabulary is not merged (Llama 3).
    pub ignore_merges: bool,
    /// Beginning-of-sequence token.
    pub bos: Option<u32>,
    /// End-of-sequence token.
    pub eos: Option<u32>,
    /// The model's convention is to start sequences with `bos`.
    pub add_bos: bool,
}

/// A BPE tokenizer ready to encode and decode.
#[derive(Debug, Clone)]
pub struct BpeTokenizer {
    tokens: Vec<String>,
    vocab: FxHashMap<Box<str>, u32>,
    /// (left, right) → (rank, merged id).
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    normalizer: Option<Normalizer>,
    pre_tokenizer: Option<PreTokenizer>,
    decoder: Option<Decoder>,
    byte_level: bool,
    /// Byte-level: the token of each byte's character.
    byte_ids: Vec<Option<u32>>,
    /// Byte fallback: the `<0xNN>` token of each byte.
    fallback_ids: Vec<Option<u32>>,
    unk: Option<u32>,
    byte_fallback: bool,
    fuse_unk: bool,
    ignore_merges: bool,
    specials: SpecialMatcher,
    /// Dropped by `decode`.
    skip_in_decode: Vec<bool>,
    bos: Option<u32>,
    eos: Option<u32>,
    add_bos: bool,
    cache: WordCache,
}

impl BpeTokenizer {
    /// A GGUF-style vocabulary: byte-level BPE whose pre-tokenizer is named by
    /// `tokenizer.ggml.pre` (`smollm`, `gpt2`, `llama-bpe`, `qwen2`, …). Control and user-defined
    /// tokens are matched whole in text; control tokens are dropped by `decode`.
    pub fn from_vocab(
        tokens: Vec<String>,
        merges: Vec<(String, String)>,
        token_types: Vec<TokenType>,
        bos: Option<u32>,
        eos: Option<u32>,
        pre: &str,
        add_bos: bool,
    ) -> Result<Self, TokenizerError> {
        let pre_tokenizer = gguf_pre::pre_tokenizer(pre)?;
        let mut added_tokens = Vec::new();
        let mut unk = None;
        for (id, (text, kind)) in tokens.iter().zip(&token_types).enumerate() {
            let id = id as u32;
            match kind {
                TokenType::Control | TokenType::UserDefined => added_tokens.push(AddedToken {
                    id,
                    content: text.clone(),
                    special: *kind == TokenType::Control,
                    lstrip: false,
                    rstrip: false,
                    single_word: false,
                }),
                TokenType::Unknown if unk.is_none() => unk = Some(id),
                _ => {}
            }
        }
        Self::new(BpeConfig {
            tokens,
            token_types,
            merges,
            pre_tokenizer: Some(pre_tokenizer),
            decoder: Some(Decoder::ByteLevel),
            ignore_merges: gguf_pre::ignores_merges(pre),
            added_tokens,
            unk,
            bos,
            eos,
            add_bos,
            ..BpeConfig::default()
        })
    }

    /// Builds the tokenizer from its parts; merges must name vocabulary tokens.
    pub fn new(config: BpeConfig) -> Result<Self, TokenizerError> {
        let BpeConfig {
            mut tokens,
            token_types,
            merges: merge_list,
            normalizer,
            pre_tokenizer,
            decoder,
            added_tokens,
            unk,
            byte_fallback,
            fuse_unk,
            ignore_merges,
            bos,
            eos,
            add_bos,
        } = config;
        if !token_types.is_empty() && token_types.len() != tokens.len() {
            return Err(TokenizerError::vocab(format!(
                "{} tokens but {} token types",
                tokens.len(),
                token_types.len()
            )));
        }
        let mut vocab = FxHashMap::default();
        vocab.reserve(tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            // Later duplicates keep the first id, as llama.cpp and HF do for their token maps.
            vocab.entry(t.as_str().into()).or_insert(id as u32);
        }
        let mut skip_in_decode: Vec<bool> = (0..tokens.len())
            .map(|i| token_types.get(i) == Some(&TokenType::Control))
            .collect();
        for t in &added_tokens {
            let id = t.id as usize;
            // Ids far beyond the vocabulary would make the id table absurdly large.
            if id >= tokens.len() + (1 << 20) {
                return Err(TokenizerError::vocab(format!(
                    "added token `{}` has id {id}, far beyond the {}-token vocabulary",
                    t.content,
                    tokens.len()
                )));
            }
            if id >= tokens.len() {
                tokens.resize(id + 1, String::new());
                skip_in_decode.resize(id + 1, false);
            }
            if tokens[id].is_empty() {
                tokens[id] = t.content.clone();
            }
            skip_in_decode[id] = t.special;
            vocab.entry(t.content.as_str().into()).or_insert(t.id);
        }
        let mut merges = FxHashMap::default();
        merges.reserve(merge_list.len());
        for (rank, (a, b)) in merge_list.iter().enumerate() {
            let look = |s: &str| {
                vocab.get(s).copied().ok_or_else(|| {
                    TokenizerError::vocab(format!(
                        "merge {rank} (`{a} {b}`) uses `{s}`, not in the vocabulary"
                    ))
                })
            };
            let (l, r, m) = (look(a)?, look(b)?, look(&format!("{a}{b}"))?);
            // HF builds this map from an iterator: a repeated pair keeps its last rank.
            merges.insert((l, r), (rank as u32, m));
        }
        let byte_level = pre_tokenizer
            .as_ref()
            .is_some_and(PreTokenizer::is_byte_level);
        let table = byte_to_char();
        let byte_ids = (0..256)
            .map(|b| vocab.get(table[b].to_string().as_str()).copied())
            .collect();
        let fallback_ids = (0..256)
            .map(|b| vocab.get(format!("<0x{b:02X}>").as_str()).copied())
            .collect();
        for id in [unk, bos, eos].into_iter().flatten() {
            if id as usize >= tokens.len() {
                return Err(TokenizerError::vocab(format!(
                    "special token id {id} is beyond the vocabulary"
                )));
            }
        }
        Ok(BpeTokenizer {
            tokens,
            vocab,
            merges,
            normalizer,
            pre_tokenizer,
            decoder,
            byte_level,
            byte_ids,
            fallback_ids,
            unk,
            byte_fallback,
            fuse_unk,
            ignore_merges,
            specials: SpecialMatcher::new(added_tokens),
            skip_in_decode,
            bos,
            eos,
            add_bos,
            cache: WordCache::default(),
        })
    }

    /// The beginning-of-sequence token even when the model does not prepend it.
    pub fn bos_token(&self) -> Option<u32> {
        self.bos
    }

    /// Overrides the BOS/EOS tokens and whether BOS is prepended (from `tokenizer_config.json`).
    pub fn set_specials(&mut self, bos: Option<u32>, eos: Option<u32>, add_bos: bool) {
        let n = self.tokens.len();
        self.bos = bos.filter(|&b| (b as usize) < n);
        self.eos = eos.filter(|&e| (e as usize) < n);
        self.add_bos = add_bos && self.bos.is_some();
    }

    /// Number of merges.
    pub fn merge_count(&self) -> usize {
        self.merges.len()
    }

    /// The tokens matched whole in text.
    pub fn added_tokens(&self) -> &[AddedToken] {
        self.specials.tokens()
    }
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str, add_bos: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos && let Some(bos) = self.bos_id() {
            out.push(bos);
        }
        self.encode_into(text, &mut out);
        out
    }

    fn decode(&self, ids: &[u32]) -> String {
        let tokens: Vec<String> = ids
            .iter()
            .filter(|&&id| {
                !self
                    .skip_in_decode
                    .get(id as usize)
                    .copied()
                    .unwrap_or(true)
            })
            .filter_map(|&id| self.tokens.get(id as usize).cloned())
            .collect();
        match &self.decoder {
            Some(d) => d.decode(tokens),
            None => tokens.concat(),
        }
    }

    /// The BOS token `encode(_, true)` prepends: `None` when the model's convention adds none
    /// (SmolLM2 defines `<|im_start|>` as BOS but never prepends it); see [`BpeTokenizer::bos_token`].
    fn bos_id(&self) -> Option<u32> {
        self.bos.filter(|_| self.add_bos)
    }

    fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    fn id_to_token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }
}
