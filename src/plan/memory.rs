//! Peak-memory estimates per run, calibrated against the seed's measurements.
//!
//! The estimate adds up what a LoRA/QLoRA training step keeps alive at its peak (the start of
//! the backward pass): base weights at their storage format, LoRA parameters with their
//! gradients and optimizer state, activations saved for the backward pass, the logits, and the
//! scratch a 4-bit layer needs to dequantize a weight. docs/memory.md derives every term and
//! compares the sum with the A100 measurements of the seed and of LitGPT.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ir::target::LoraTarget;

use crate::model::arch::Arch;

mod activations;
mod weights;

/// Longest Alpaca training example in Llama 2 tokens, as LitGPT trains it (its first step
/// uses the longest example, so the peak is measured there). Our copy of alpaca_data.json
/// gives 1305 with the prompt template, BOS and EOS.
pub const ALPACA_LONGEST_LLAMA2_TOKENS: u32 = 1304;

/// CUDA context, cuBLAS workspace and kernel images: outside PyTorch's allocator, so absent
/// from `max_memory_allocated` (what the seed reports) but present on the device.
pub const CUDA_CONTEXT_BYTES: u64 = 512 << 20;

/// Share of allocated bytes the caching allocator holds beyond them (block rounding and
/// fragmentation); an assumption, not calibrated.
pub const ALLOCATOR_SLACK: f64 = 0.05;

/// A floating-point storage type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// IEEE single precision.
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE half precision.
    F16,
}

impl Dtype {
    /// Bytes per element.
    pub fn bytes(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::Bf16 | Dtype::F16 => 2,
        }
    }
}

/// LitGPT's `precision` settings, mapped onto the three dtypes the estimate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Everything in bfloat16 (the seed's runs).
    Bf16True,
    /// f32 parameters, bfloat16 autocast compute.
    Bf16Mixed,
    /// Everything in f16.
    #[serde(rename = "16-true")]
    F16True,
    /// Everything in f32 (lpipe's CPU default).
    #[serde(rename = "32-true")]
    F32True,
}

impl Precision {
    /// Parses LitGPT's spelling (`bf16-true`, `bf16-mixed`, `16-true`, `32-true`).
    pub fn from_name(name: &str) -> Option<Precision> {
        match name {
            "bf16-true" => Some(Precision::Bf16True),
            "bf16-mixed" => Some(Precision::Bf16Mixed),
            "16-true" => Some(Precision::F16True),
            "32-true" => Some(Precision::F32True),
            _ => None,
        }
    }

    /// `(base weights, activations, trainable parameters)` dtypes.
    pub fn dtypes(self) -> (Dtype, Dtype, Dtype) {
        match self {
            Precision::Bf16True => (Dtype::Bf16, Dtype::Bf16, Dtype::Bf16),
            Precision::Bf16Mixed => (Dtype::F32, Dtype::Bf16, Dtype::F32),
            Precision::F16True => (Dtype::F16, Dtype::F16, Dtype::F16),
            Precision::F32True => (Dtype::F32, Dtype::F32, Dtype::F32),
        }
    }
}

/// How the frozen base linears are stored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseFormat {
    /// Unquantized, in this dtype.
    Float(Dtype),
    /// bitsandbytes-style 4-bit (NF4 or FP4: same size).
    FourBit(FourBit),
}

/// Layout of a 4-bit quantized linear.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FourBit {
    /// Elements per absmax block (bitsandbytes default 64).
    pub block_size: u32,
    /// Quantize the absmax values to 8 bits in blocks of 256 (QLoRA's double quantization).
    pub double_quant: bool,
    /// Also quantize an untied `lm_head` (LitGPT does; transformers keeps it unquantized).
    pub quantize_head: bool,
}

/// The optimizer, by how many f-sized states it keeps per trainable parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Two moments (m and v).
    AdamW,
    /// Momentum buffer only when momentum ≠ 0.
    Sgd {
        /// Whether a momentum buffer is kept.
        momentum: bool,
    },
}

impl Optimizer {
    /// States per trainable parameter.
    pub fn states(self) -> u64 {
        match self {
            Optimizer::AdamW => 2,
            Optimizer::Sgd { momentum } => u64::from(momentum),
        }
    }
}

/// Everything the estimate depends on for one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryInputs {
    /// The model's shape.
    pub arch: Arch,
    /// LoRA targets (empty: nothing trained, an inference-only footprint plus activations).
    pub targets: Vec<LoraTarget>,
    /// LoRA rank.
    pub r: u32,
    /// LoRA dropout; above zero each wrapped input also keeps a one-byte mask.
    pub lora_dropout: f64,
    /// Storage of the frozen base linears.
    pub base: BaseFormat,
    /// Dtype of the embedding, norms and any unquantized weight.
    pub weight_dtype: Dtype,
    /// Dtype of activations (the compute dtype).
    pub compute_dtype: Dtype,
    /// Dtype of LoRA parameters, their gradients and the optimizer state.
    pub trainable_dtype: Dtype,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Sequences per forward/backward pass.
    pub micro_batch: u32,
    /// Tokens per sequence at the peak (the longest padded sequence).
    pub seq_len: u32,
    /// Recompute each block's activations in the backward pass, keeping only block inputs.
    pub activation_checkpointing: bool,
    /// Device memory outside the allocator (CUDA context); 0 on the CPU.
    pub context_bytes: u64,
}

impl MemoryInputs {
    /// A LitGPT-style run: `precision`, AdamW, LoRA dropout 0.05, micro-batch 1, CUDA.
    pub fn new(
        arch: Arch,
        targets: &[LoraTarget],
        r: u32,
        precision: Precision,
        seq_len: u32,
    ) -> MemoryInputs {
        let (weight_dtype, compute_dtype, trainable_dtype) = precision.dtypes();
        MemoryInputs {
            arch,
            targets: targets.to_vec(),
            r,
            lora_dropout: 0.05,
            base: BaseFormat::Float(weight_dtype),
            weight_dtype,
            compute_dtype,
            trainable_dtype,
            optimizer: Optimizer::AdamW,
            micro_batch: 1,
            seq_len,
            activation_checkpointing: false,
            context_bytes: CUDA_CONTEXT_BYTES,
        }
    }

    /// The same run with the base linears quantized to 4 bits (block size 64).
    pub fn quantized(mut self, double_quant: bool) -> MemoryInputs {
        self.base = BaseFormat::FourBit(FourBit {
            block_size: 64,
            double_quant,
            quantize_head: true,
        });
        self
    }

    /// Tokens in one micro-batch.
    fn tokens(&self) -> u64 {
        u64::from(self.micro_batch) * u64::from(self.seq_len)
    }
}

/// The estimate, part by part (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    /// Base weights: unquantized tensors at their dtype, 4-bit tensors packed two per byte.
    pub base_weights: u64,
    /// 4-bit quantization state: absmax (or its 8-bit codes plus second-level stats).
    pub quant_state: u64,
    /// LoRA parameters.
    pub lora_params: u64,
    /// Their gradients (kept across gradient-accumulation micro-steps).
    pub lora_grads: u64,
    /// Optimizer state.
    pub optimizer_state: u64,
    /// Activations saved for the backward pass by the decoder blocks and final norm.
    pub activations: u64,
    /// Logits and log-probabilities of the micro-batch.
    pub logits: u64,
    /// One dequantized base weight, materialized by a 4-bit layer's forward/backward.
    pub dequant_scratch: u64,
    /// Sum of the above: comparable with PyTorch's `max_memory_allocated`.
    pub allocated: u64,
    /// Caching-allocator slack ([`ALLOCATOR_SLACK`] of `allocated`).
    pub allocator_slack: u64,
    /// Memory outside the allocator ([`MemoryInputs::context_bytes`]).
    pub context: u64,
    /// What the device must hold: `allocated + allocator_slack + context`.
    pub total: u64,
}

impl MemoryEstimate {
    /// Whether the run fits on a device with `device_memory` bytes.
    pub fn fits(&self, device_memory: u64) -> bool {
        self.total <= device_memory
    }

    /// The parts with their labels, in display order (for `lpipe plan`).
    pub fn parts(&self) -> [(&'static str, u64); 8] {
        [
            ("base weights", self.base_weights),
            ("quantization state", self.quant_state),
            ("LoRA parameters", self.lora_params),
            ("LoRA gradients", self.lora_grads),
            ("optimizer state", self.optimizer_state),
            ("activations", self.activations),
            ("logits", self.logits),
            ("dequantization scratch", self.dequant_scratch),
        ]
    }
}

/// Bytes as decimal gigabytes with two decimals (the unit LitGPT and the seed report).
pub fn format_gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

impl fmt::Display for MemoryEstimate {
    /// One line per non-zero part, then the allocated peak and the device total.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, bytes) in self.parts().into_iter().filter(|(_, b)| *b > 0) {
            writeln!(f, "  {label:<24} {:>10}", format_gb(bytes))?;
        }
        writeln!(
            f,
            "  {:<24} {:>10}",
            "peak allocated",
            format_gb(self.allocated)
        )?;
        write!(
            f,
            "  {:<24} {:>10}  (+ allocator slack {}, context {})",
            "device total",
            format_gb(self.total),
            format_gb(self.allocator_slack),
            format_gb(self.context)
        )
    }
}

/// Estimates the peak memory of one training step.
pub fn estimate(inputs: &MemoryInputs) -> MemoryEstimate {
    let w = weights::base(inputs);
    let lora = super::params::lora_params(&inputs.arch, &inputs.targets, inputs.r);
    let trainable = lora.saturating_mul(inputs.trainable_dtype.bytes());
    let activations = activations::saved(inputs);
    let logits = activations::logits(inputs);
    let optimizer_state = trainable.saturating_mul(inputs.optimizer.states());
    // Absurd inputs saturate at u64::MAX (and then never fit) rather than overflow.
    let allocated = [
        w.quant_state,
        trainable,
        trainable,
        optimizer_state,
        activations,
        logits,
        w.dequant_scratch,
    ]
    .into_iter()
    .fold(w.weights, u64::saturating_add);
    // Float-to-int casts saturate; slack is a small fraction of a realistic total.
    let allocator_slack = (allocated as f64 * ALLOCATOR_SLACK).round() as u64;
    MemoryEstimate {
        base_weights: w.weights,
        quant_state: w.quant_state,
        lora_params: trainable,
        lora_grads: trainable,
        optimizer_state,
        activations,
        logits,
        dequant_scratch: w.dequant_scratch,
        allocated,
        allocator_slack,
        context: inputs.context_bytes,
        total: allocated
            .saturating_add(allocator_slack)
            .saturating_add(inputs.context_bytes),
    }
}
