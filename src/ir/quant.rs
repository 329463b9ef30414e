//! 4-bit quantization of the frozen base weights (QLoRA).

use serde::{Deserialize, Serialize};

use crate::ir::target::LoraTarget;

/// The `quantize` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantize {
    /// The 4-bit code.
    pub kind: QuantType,
    /// Quantize the absmax constants too (8-bit, blocks of 256).
    pub double_quant: bool,
    /// Elements per absmax block (a power of two, 32–4096; bitsandbytes uses 64).
    pub block_size: u32,
    /// Which base linears are quantized.
    pub modules: Vec<LoraTarget>,
}

/// bitsandbytes 4-bit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantType {
    /// NormalFloat4.
    Nf4,
    /// 4-bit float (E2M1).
    Fp4,
}

impl QuantType {
    /// The surface name.
    pub fn name(self) -> &'static str {
        match self {
            QuantType::Nf4 => "nf4",
            QuantType::Fp4 => "fp4",
        }
    }
}
