//! The validated pipeline as plain serde data (RON is its machine-readable form).
//!
//! The checker ([`crate::check`]) builds these from the AST; nothing here carries spans.
//! A [`Pipeline`] is what one file describes: a base [`RunConfig`] and, with a sweep, one
//! [`Run`] per point. Every later stage reads only these types.

pub mod dataset;
pub mod eval;
pub mod export;
pub mod lora;
pub mod model;
pub mod quant;
pub mod sweep;
pub mod target;
pub mod train;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use dataset::{ArithOp, DataSource, Dataset, FieldMap, Template};
pub use eval::{Eval, EvalOn, Task};
pub use export::{Export, Report, ReportFormat};
pub use lora::{Lora, LoraInit};
pub use model::{Device, Model, ModelSource, Precision};
pub use quant::{QuantType, Quantize};
pub use sweep::{Axis, AxisKind, Sweep};
pub use target::LoraTarget;
pub use train::{Decay, Length, Optimizer, Schedule, Train};

/// A checked pipeline file: its runs (one without a sweep).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// The pipeline's name (`name = …`, else the file stem).
    pub name: String,
    /// A one-line description, if given.
    pub description: Option<String>,
    /// The file it was read from.
    pub source: PathBuf,
    /// Where runs write their directories (`runs_dir`, default `runs`).
    pub runs_dir: PathBuf,
    /// The sweep's axes, if any.
    pub sweep: Option<Sweep>,
    /// The concrete runs, in sweep order (exactly one without a sweep).
    pub runs: Vec<Run>,
}

/// One concrete experiment: a sweep point, or the whole pipeline without a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Short readable name (`r16-a32`), unique within the pipeline.
    pub name: String,
    /// The swept keys and their values at this point, as written (`lora.r`, `16`).
    pub point: Vec<(String, String)>,
    /// The fully resolved configuration.
    pub config: RunConfig,
}

/// Every stage's settings for one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Training/validation data (required when training or evaluating held-out data).
    pub dataset: Option<Dataset>,
    /// The base model.
    pub model: Model,
    /// 4-bit quantization of the frozen base (QLoRA).
    pub quantize: Option<Quantize>,
    /// The adapter (required when training).
    pub lora: Option<Lora>,
    /// Training; absent for evaluation-only pipelines.
    pub train: Option<Train>,
    /// Evaluation stages, in file order.
    pub evals: Vec<Eval>,
    /// Adapter export.
    pub export: Option<Export>,
    /// Result tables.
    pub report: Option<Report>,
    /// Explicit ordering constraints (`after = [...]`): (stage, must run after stage).
    pub after: Vec<(String, String)>,
}

impl Pipeline {
    /// The machine-readable form.
    pub fn to_ron(&self) -> Result<String, ron::Error> {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
    }

    /// Reads the machine-readable form back.
    pub fn from_ron(text: &str) -> Result<Pipeline, ron::error::SpannedError> {
        ron::from_str(text)
    }
}
