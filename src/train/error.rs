//! Training diagnostics, codes `lpipe::E7xx`.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Everything that can go wrong while training, checkpointing or exporting an adapter.
#[derive(Debug, Error, Diagnostic)]
pub enum TrainError {
    /// A file or directory could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    #[diagnostic(
        code(lpipe::E700),
        help("check that the path exists, is writable and that the disk is not full")
    )]
    Io {
        /// What was being done ("write", "read", "rename", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// A safetensors file is malformed or holds an unexpected tensor.
    #[error("bad tensor file `{}`: {reason}", path.display())]
    #[diagnostic(
        code(lpipe::E701),
        help("the file must be a safetensors file with float tensors (F32, F16 or BF16)")
    )]
    Tensors {
        /// The safetensors file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A JSON file (adapter config, trainer state) is malformed or unsupported.
    #[error("bad `{}`: {reason}", path.display())]
    #[diagnostic(
        code(lpipe::E702),
        help(
            "adapter configs follow PEFT's adapter_config.json; trainer_state.json is written by lpipe"
        )
    )]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The loss became NaN or infinite; the run stops and keeps its last good checkpoint.
    #[error("{what} is {value} at optimizer step {step}")]
    #[diagnostic(
        code(lpipe::E703),
        help("lower the learning rate, enable gradient clipping or check the data; the last good checkpoint is {}", last_good.as_ref().map_or("(none)".to_string(), |p| p.display().to_string()))
    )]
    NonFinite {
        /// The optimizer step (1-based) whose loss or gradients were not finite.
        step: u64,
        /// What was not finite ("loss" or "gradient norm").
        what: &'static str,
        /// The offending value.
        value: f32,
        /// The newest checkpoint written before the failure.
        last_good: Option<PathBuf>,
    },

    /// A training setting is out of range or inconsistent with another.
    #[error("invalid training setting `{field}`: {reason}")]
    #[diagnostic(
        code(lpipe::E704),
        help(
            "batch_size must be a positive multiple of micro_batch_size; rates, steps and betas must be in range"
        )
    )]
    Config {
        /// The setting.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },

    /// A tokenized example is unusable (length mismatch, out-of-vocabulary label, empty set).
    #[error("bad training example {index}: {reason}")]
    #[diagnostic(
        code(lpipe::E705),
        help("input_ids and labels must have the same length; labels are token ids or -100")
    )]
    Example {
        /// Index of the example in its dataset.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A checkpoint does not belong to this run (different settings, parameters or data).
    #[error("cannot resume from `{}`: {reason}", path.display())]
    #[diagnostic(
        code(lpipe::E706),
        help("resume with the same pipeline and data, or start a fresh run directory")
    )]
    ResumeMismatch {
        /// The checkpoint directory.
        path: PathBuf,
        /// What differs.
        reason: String,
    },

    /// An adapter does not fit the model it is applied to.
    #[error("adapter does not match the model: {reason}")]
    #[diagnostic(
        code(lpipe::E707),
        help("use the adapter with the base model and targets it was trained for")
    )]
    AdapterMismatch {
        /// What differs (a missing tensor, a shape).
        reason: String,
    },

    /// Reading a tensor back from the device failed.
    #[error("cannot read tensor `{name}` from the device: {reason}")]
    #[diagnostic(
        code(lpipe::E708),
        help("this is a backend failure; rerun with RUST_BACKTRACE=1 and report it")
    )]
    Device {
        /// The tensor.
        name: String,
        /// The backend's message.
        reason: String,
    },

    /// The model failed (loading weights, forward pass).
    #[error("model error: {reason}")]
    #[diagnostic(code(lpipe::E709), help("see the model diagnostic above"))]
    Model {
        /// The model's message.
        reason: String,
    },
}

impl TrainError {
    /// Wraps an I/O error with the action and path it concerns.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A bad-setting error.
    pub fn config(field: &'static str, reason: impl Into<String>) -> Self {
        TrainError::Config {
            field,
            reason: reason.into(),
        }
    }
}
