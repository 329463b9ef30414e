//! Dataset settings: where records come from and how they become prompts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `dataset` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Where the records come from.
    pub source: DataSource,
    /// How a record becomes prompt + response text.
    pub template: Template,
    /// Token sequences are truncated to this length.
    pub max_seq_len: u32,
    /// Whether prompt tokens are excluded from the loss (labels −100).
    pub mask_prompt: bool,
    /// Fraction of records held out for validation, in [0, 1).
    pub val_split: f64,
    /// Seed of the train/validation split (and of synthetic data when it has none of its own).
    pub seed: u64,
    /// Use only the first N records (after shuffling), if set.
    pub limit: Option<u64>,
}

/// Where records come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataSource {
    /// An Alpaca-style JSON array or JSON-lines file.
    Json {
        /// The file (resolved against the pipeline file's directory).
        path: PathBuf,
        /// JSON lines (one object per line) rather than one array.
        lines: bool,
        /// Which fields hold instruction, input and output.
        fields: FieldMap,
    },
    /// Synthetic arithmetic questions ("What is 59 minus 38?" → "21").
    Arithmetic {
        /// Digits per operand.
        digits: u32,
        /// Operations to draw from.
        ops: Vec<ArithOp>,
        /// Number of records.
        count: u64,
        /// Generator seed.
        seed: u64,
    },
    /// Pre-tokenized examples: JSON lines `{"input_ids": […], "labels": […]}` (labels optional;
    /// −100 on the prompt, then the ids).
    Tokens {
        /// The file (resolved against the pipeline file's directory).
        path: PathBuf,
    },
}

/// Record field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMap {
    /// The instruction field (default `instruction`).
    pub instruction: String,
    /// The optional input field (default `input`).
    pub input: String,
    /// The response field (default `output`).
    pub output: String,
}

impl Default for FieldMap {
    fn default() -> FieldMap {
        FieldMap {
            instruction: "instruction".into(),
            input: "input".into(),
            output: "output".into(),
        }
    }
}

/// Arithmetic operations of the synthetic source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithOp {
    /// a plus b
    Plus,
    /// a minus b
    Minus,
    /// a times b
    Times,
}

/// The argument of `chatml(…)` in `dataset.template` (and `--template`).
pub const CHATML_PARAMS: [&str; 1] = ["system"];
/// The arguments of `custom(…)`, in positional order.
pub const CUSTOM_PARAMS: [&str; 2] = ["text", "no_input"];

/// Prompt templates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Template {
    /// The Stanford Alpaca / LitGPT text (with- and without-input variants).
    Alpaca,
    /// ChatML (`<|im_start|>user … <|im_end|>`).
    Chatml {
        /// A system turn placed first, when set (`chatml(system = "…")`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        system: Option<String>,
    },
    /// A custom template with `{instruction}`, optionally `{input}`, and at most one `{output}`
    /// (the response goes there; after the whole template when absent).
    Custom {
        /// The template text.
        prompt: String,
        /// The variant used for records whose input is empty (`custom("…", "…")`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        no_input: Option<String>,
    },
}
