//! Bytes of the frozen base model: unquantized tensors, packed 4-bit tensors and their state.

use super::{BaseFormat, FourBit, MemoryInputs};
use crate::ir::target::LoraTarget;
use crate::plan::params::{self, LinearShape};

/// Base-model bytes by kind.
pub(super) struct BaseBytes {
    /// Tensors as stored (unquantized at their dtype, 4-bit packed two per byte).
    pub weights: u64,
    /// absmax (f32 per block) or, with double quantization, its 8-bit codes plus stats.
    pub quant_state: u64,
    /// The largest quantized weight, dequantized to the compute dtype for one matmul.
    pub dequant_scratch: u64,
}

/// Blocks per second-level block of double quantization (bitsandbytes' fixed 256).
const DQ_BLOCK: u64 = 256;

/// Bytes of the frozen base model under `inputs.base`.
pub(super) fn base(inputs: &MemoryInputs) -> BaseBytes {
    let arch = &inputs.arch;
    let layers = arch.num_layers as u64;
    // A tied head is the embedding itself: stored once, never quantized.
    let head = (!arch.tie_word_embeddings).then(|| params::head_linear(arch));
    // The embedding and norms stay unquantized (bitsandbytes replaces linears only).
    let mut float_params = params::embedding_params(arch).saturating_add(params::norm_params(arch));
    let float = inputs.weight_dtype.bytes();
    let q = match inputs.base {
        BaseFormat::Float(dtype) => {
            let linears = params::block_linear_params(arch)
                .saturating_add(head.map_or(0, LinearShape::params));
            return BaseBytes {
                weights: (float_params.saturating_mul(float))
                    .saturating_add(linears.saturating_mul(dtype.bytes())),
                quant_state: 0,
                dequant_scratch: 0,
            };
        }
        BaseFormat::FourBit(q) => q,
    };
    let block: Vec<LinearShape> = LoraTarget::ALL
        .into_iter()
        .flat_map(|t| params::block_linears(arch, t))
        .collect();
    let quantized_head = head.filter(|_| q.quantize_head);
    if let Some(h) = head.filter(|_| !q.quantize_head) {
        float_params = float_params.saturating_add(h.params());
    }
    // Sum of `f` over every quantized linear: seven per block, plus the head when quantized.
    let total = |f: fn(LinearShape, FourBit) -> u64| -> u64 {
        let per_layer = block
            .iter()
            .fold(0, |acc: u64, &s| acc.saturating_add(f(s, q)));
        per_layer
            .saturating_mul(layers)
            .saturating_add(quantized_head.map_or(0, |h| f(h, q)))
    };
    let largest = block
        .iter()
        .chain(quantized_head.iter())
        .map(|s| s.params())
        .max()
        .unwrap_or(0);
    BaseBytes {
        weights: float_params
            .saturating_mul(float)
            .saturating_add(total(packed_bytes)),
        quant_state: total(state_bytes),
        dequant_scratch: largest.saturating_mul(inputs.compute_dtype.bytes()),
    }
}

/// Two 4-bit codes per byte (an odd element count rounds up).
fn packed_bytes(s: LinearShape, _: FourBit) -> u64 {
    s.params().div_ceil(2)
}

/// absmax per block: f32, or with double quantization one byte per block plus an f32 scale
/// per 256 blocks and one f32 offset per tensor.
fn state_bytes(s: LinearShape, q: FourBit) -> u64 {
    let blocks = s.params().div_ceil(u64::from(q.block_size.max(1)));
    if q.double_quant {
        blocks
            .saturating_add(4 * blocks.div_ceil(DQ_BLOCK))
            .saturating_add(4)
    } else {
        blocks.saturating_mul(4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::Arch;
    use crate::plan::memory::{MemoryInputs, Precision};

    fn llama2_7b() -> MemoryInputs {
        let arch = Arch::builtin("llama2-7b").expect("built in");
        MemoryInputs::new(arch, &[], 8, Precision::Bf16True, 1)
    }

    #[test]
    fn nf4_layout_of_llama2_7b() {
        // 6,476,005,376 block-linear and 131,072,000 head weights, all multiples of 64.
        let b = base(&llama2_7b().quantized(false));
        // Two codes per byte, plus the bf16 embedding (262,144,000 B) and norms (532,480 B).
        assert_eq!(b.weights, 3_303_538_688 + 262_144_000 + 532_480);
        // One f32 absmax per 64 weights.
        assert_eq!(b.quant_state, 4 * 103_235_584);
        // The dequantized head in bf16.
        assert_eq!(b.dequant_scratch, 2 * 131_072_000);
    }

    #[test]
    fn double_quant_state_of_llama2_7b() {
        // Per tensor: one byte per block, an f32 per 256 blocks, an f32 offset. Attention
        // weights have 262,144 blocks, MLP weights 704,512, the head 2,048,000.
        let per_layer = 4 * (262_144 + 4 * 1024 + 4) + 3 * (704_512 + 4 * 2752 + 4);
        let head = 2_048_000 + 4 * 8000 + 4;
        let b = base(&llama2_7b().quantized(true));
        assert_eq!(b.quant_state, 32 * per_layer + head);
    }

    #[test]
    fn unquantized_head_and_tied_head() {
        let mut run = llama2_7b().quantized(false);
        if let BaseFormat::FourBit(q) = &mut run.base {
            q.quantize_head = false;
        }
        let b = base(&run);
        assert_eq!(
            b.weights,
            6_476_005_376 / 2 + 2 * (131_072_000 + 266_240 + 131_072_000)
        );
        // The largest block weight (4096 × 11008) is the scratch now.
        assert_eq!(b.dequant_scratch, 2 * 4096 * 11008);
        let tied = MemoryInputs::new(
            Arch::builtin("smollm2-135m").expect("built in"),
            &[],
            8,
            Precision::F32True,
            1,
        );
        assert_eq!(base(&tied).weights, 4 * 134_515_008);
    }
}
