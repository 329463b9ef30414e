//! The dataset stage: source → records → template → tokens → split, cached by content hash.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::alpaca::{self, Format, hex_sha256};
use super::arithmetic::{self, ArithmeticSpec};
use super::cache::{self, KeyBuilder};
use super::dataset::{Example, TokenizedDataset};
use super::encode::{TokenizeSettings, encode_all};
use super::error::DataError;
use super::record::{FieldMap, Record};
use super::split::{Split, SplitSpec};
use super::stats::LengthStats;
use super::template::Template;
use crate::tokenizer::Tokenizer;

/// Where records come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceSpec {
    /// An Alpaca-format JSON array or JSON Lines file.
    File {
        /// The file (already resolved against the pipeline's directory).
        path: PathBuf,
        /// Array or lines.
        format: Format,
        /// Field names.
        fields: FieldMap,
    },
    /// The built-in synthetic arithmetic questions.
    Arithmetic(ArithmeticSpec),
    /// Pre-tokenized examples (JSON lines of `input_ids` and optional `labels`; [`super::tokens`]).
    Tokens {
        /// The file (already resolved against the pipeline's directory).
        path: PathBuf,
    },
}

impl SourceSpec {
    /// An Alpaca file with the default field names, format detected.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        SourceSpec::File {
            path: path.into(),
            format: Format::Auto,
            fields: FieldMap::default(),
        }
    }
}

/// Everything the dataset stage needs besides the tokenizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetConfig {
    /// The records.
    pub source: SourceSpec,
    /// The prompt template.
    pub template: Template,
    /// Tokenization settings.
    pub tokenize: TokenizeSettings,
    /// Train/validation split.
    pub split: SplitSpec,
}

/// Records of a source, with what identifies their content.
#[derive(Clone, Debug)]
pub struct SourceRecords {
    /// Training records in source order.
    pub records: Vec<Record>,
    /// Held-out evaluation records (arithmetic only; empty for files).
    pub heldout: Vec<Record>,
}

/// How the cache was used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// No cache directory was given.
    Disabled,
    /// Loaded from the cache file.
    Hit(PathBuf),
    /// Tokenized and written to the cache file.
    Written(PathBuf),
    /// The cache file was unusable (reason); tokenized again and overwritten.
    Rebuilt(PathBuf, String),
}

/// A tokenized, split dataset ready for training.
#[derive(Clone, Debug)]
pub struct PreparedDataset {
    /// Every example in source order.
    pub tokens: TokenizedDataset,
    /// Indices of the training and validation examples.
    pub split: Split,
    /// Token-length statistics over all examples (before truncation).
    pub stats: LengthStats,
    /// The content hash naming the cache entry.
    pub key: String,
    /// Whether the tokens came from the cache.
    pub cache: CacheUse,
    /// Held-out evaluation records (arithmetic source; empty otherwise).
    pub heldout: Vec<Record>,
}

impl PreparedDataset {
    /// Training examples in split order.
    pub fn train(&self) -> impl Iterator<Item = Example<'_>> {
        self.split
            .train
            .iter()
            .filter_map(|&i| self.tokens.get(i as usize))
    }

    /// Validation examples in split order.
    pub fn validation(&self) -> impl Iterator<Item = Example<'_>> {
        self.split
            .validation
            .iter()
            .filter_map(|&i| self.tokens.get(i as usize))
    }
}

/// Loads the records of `source` (no tokenizer needed).
pub fn load_records(source: &SourceSpec) -> Result<SourceRecords, DataError> {
    match source {
        SourceSpec::File {
            path,
            format,
            fields,
        } => Ok(SourceRecords {
            records: alpaca::load_file(path, *format, fields)?.records,
            heldout: Vec::new(),
        }),
        SourceSpec::Arithmetic(spec) => {
            let sets = arithmetic::generate(spec)?;
            Ok(SourceRecords {
                records: sets.train,
                heldout: sets.heldout,
            })
        }
        // Token ids have no text to show; only `prepare` reads them.
        SourceSpec::Tokens { .. } => Ok(SourceRecords {
            records: Vec::new(),
            heldout: Vec::new(),
        }),
    }
}

/// Runs the dataset stage. `tokenizer_id` names the tokenizer's content (e.g. its file's SHA-256);
/// with `cache_root` (normally [`crate::cache::cache_dir`]) results are reused across runs.
pub fn prepare(
    config: &DatasetConfig,
    tokenizer: &dyn Tokenizer,
    tokenizer_id: &str,
    cache_root: Option<&Path>,
) -> Result<PreparedDataset, DataError> {
    // 1. Identify the source content without parsing it, so a cache hit skips the parse.
    let (source_id, raw, heldout) = match &config.source {
        SourceSpec::File {
            path,
            format,
            fields,
        } => {
            let bytes = alpaca::read_bytes(path)?;
            let id = format!(
                "file sha256={} format={format:?} fields={fields:?}",
                hex_sha256(&bytes)
            );
            (id, Some(bytes), Vec::new())
        }
        SourceSpec::Arithmetic(spec) => (
            format!("arithmetic {}", serde_json::json!(spec)),
            None,
            Vec::new(),
        ),
        SourceSpec::Tokens { path } => {
            let bytes = alpaca::read_bytes(path)?;
            let id = format!("tokens sha256={}", hex_sha256(&bytes));
            (id, Some(bytes), Vec::new())
        }
    };
    let key = KeyBuilder::new()
        .part("source", &source_id)
        .part("template", &config.template.identity())
        .tokenizer(tokenizer_id, tokenizer)
        .part("settings", &serde_json::json!(config.tokenize).to_string())
        .part("split", &config.split.identity())
        .finish();
    let path = cache_root.map(|root| cache::cache_path(root, &key));

    // 2. Reuse the cache when it holds this key.
    let mut rebuilt = None;
    if let Some(path) = &path {
        match cache::load(path, &key) {
            Ok(Some((tokens, split))) => {
                let heldout = match &config.source {
                    SourceSpec::Arithmetic(spec) => arithmetic::generate(spec)?.heldout,
                    SourceSpec::File { .. } | SourceSpec::Tokens { .. } => heldout,
                };
                return finish(
                    tokens,
                    split,
                    key,
                    CacheUse::Hit(path.clone()),
                    heldout,
                    config,
                );
            }
            Ok(None) => {}
            Err(err) => rebuilt = Some(err.to_string()),
        }
    }

    // 3. Parse, template, tokenize and split (pre-tokenized examples skip the middle two).
    if let (SourceSpec::Tokens { path: file }, Some(bytes)) = (&config.source, raw.clone()) {
        let settings = &config.tokenize;
        let max_len = settings.max_seq_len.unwrap_or(usize::MAX);
        let vocab = tokenizer.vocab_size();
        let tokens = super::tokens::parse(file, bytes, vocab, max_len, settings.mask_prompt)?;
        return split_and_store(tokens, config, key, path, rebuilt, heldout);
    }
    let source = match (&config.source, raw) {
        (
            SourceSpec::File {
                path,
                format,
                fields,
            },
            Some(bytes),
        ) => SourceRecords {
            records: alpaca::parse_bytes(path, bytes, *format, fields)?,
            heldout: Vec::new(),
        },
        (source, _) => load_records(source)?,
    };
    if source.records.is_empty() {
        return Err(DataError::Empty {
            name: source_name(&config.source),
        });
    }
    let tokens = encode_all(
        tokenizer,
        &config.template,
        &source.records,
        &config.tokenize,
    )?;
    split_and_store(tokens, config, key, path, rebuilt, source.heldout)
}

/// Splits the examples and (4.) stores them atomically for the next run.
fn split_and_store(
    tokens: TokenizedDataset,
    config: &DatasetConfig,
    key: String,
    path: Option<PathBuf>,
    rebuilt: Option<String>,
    heldout: Vec<Record>,
) -> Result<PreparedDataset, DataError> {
    if tokens.is_empty() {
        return Err(DataError::Empty {
            name: source_name(&config.source),
        });
    }
    let split = config.split.apply(tokens.len())?;
    let cache = match (path, rebuilt) {
        (None, _) => CacheUse::Disabled,
        (Some(path), reason) => {
            cache::save(&path, &key, &tokens, &split, &source_name(&config.source))?;
            match reason {
                Some(reason) => CacheUse::Rebuilt(path, reason),
                None => CacheUse::Written(path),
            }
        }
    };
    finish(tokens, split, key, cache, heldout, config)
}

fn finish(
    tokens: TokenizedDataset,
    split: Split,
    key: String,
    cache: CacheUse,
    heldout: Vec<Record>,
    config: &DatasetConfig,
) -> Result<PreparedDataset, DataError> {
    let lengths: Vec<usize> = tokens.full_lengths().collect();
    let stats =
        LengthStats::from_lengths(&lengths, config.tokenize.max_seq_len).ok_or_else(|| {
            DataError::Empty {
                name: source_name(&config.source),
            }
        })?;
    Ok(PreparedDataset {
        tokens,
        split,
        stats,
        key,
        cache,
        heldout,
    })
}

fn source_name(source: &SourceSpec) -> String {
    match source {
        SourceSpec::File { path, .. } | SourceSpec::Tokens { path } => path.display().to_string(),
        SourceSpec::Arithmetic(spec) => format!(
            "arithmetic(digits = {}, ops = [{}], count = {}, seed = {})",
            spec.digits,
            spec.ops
                .iter()
                .map(|op| op.word())
                .collect::<Vec<_>>()
                .join(", "),
            spec.count,
            spec.seed
        ),
    }
}
