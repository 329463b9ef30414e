//! One instruction-tuning example as written in the source, before templating.

use serde::{Deserialize, Serialize};

/// An instruction / input / response triple (the Alpaca schema).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// The task the model is asked to do.
    pub instruction: String,
    /// Optional context for the task; empty when the record has none.
    pub input: String,
    /// The expected response.
    pub output: String,
}

impl Record {
    /// A record from its three parts.
    pub fn new(
        instruction: impl Into<String>,
        input: impl Into<String>,
        output: impl Into<String>,
    ) -> Self {
        Record {
            instruction: instruction.into(),
            input: input.into(),
            output: output.into(),
        }
    }
}

/// Which JSON field holds each part of a [`Record`] (`fields = { … }` in a pipeline file).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldMap {
    /// Field holding the instruction (default `instruction`).
    pub instruction: String,
    /// Field holding the optional input (default `input`); `None` ignores inputs.
    pub input: Option<String>,
    /// Field holding the response (default `output`).
    pub output: String,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            instruction: "instruction".into(),
            input: Some("input".into()),
            output: "output".into(),
        }
    }
}
