//! Datasets: Alpaca JSON/JSONL, synthetic arithmetic, prompt templates, tokenized examples.
//!
//! The path of the data: [`SourceSpec`] → [`Record`]s ([`alpaca`], [`arithmetic`]) →
//! [`Template`] text → token ids ([`encode`]) → [`TokenizedDataset`] + [`Split`] +
//! [`LengthStats`], cached by content hash ([`cache`]). [`prepare`] runs the whole stage.

pub mod alpaca;
pub mod arithmetic;
pub mod cache;
pub mod dataset;
pub mod encode;
pub mod error;
pub mod from_ir;
pub mod json_scan;
pub mod prepare;
pub mod record;
pub mod rng;
pub mod split;
pub mod stats;
pub mod template;
pub mod tokens;

pub use alpaca::Format;
pub use arithmetic::{ArithOp, ArithmeticSets, ArithmeticSpec};
pub use dataset::{Example, IGNORE_INDEX, TokenizedDataset};
pub use encode::{Encoded, TokenizeSettings, encode_all, encode_record};
pub use error::{DataError, RecordError};
pub use prepare::{
    CacheUse, DatasetConfig, PreparedDataset, SourceRecords, SourceSpec, load_records, prepare,
};
pub use record::{FieldMap, Record};
pub use split::{Split, SplitSpec, ValidationSize};
pub use stats::LengthStats;
pub use template::{CustomTemplate, Template};
