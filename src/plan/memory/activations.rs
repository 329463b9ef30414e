//! Activations a training step keeps for its backward pass, per token.
//!
//! The inventory follows a LitGPT/PyTorch Llama block (the reference the seed measured): which
//! tensors autograd saves was traced with `saved_tensors_hooks`
//! (scripts/reference/saved_activations.py); docs/memory.md lists each term. Arithmetic
//! saturates so that absurd shapes give `u64::MAX` (never fits) instead of overflowing.

use super::{BaseFormat, MemoryInputs};
use crate::ir::target::LoraTarget;

/// Extra `intermediate`-wide compute-dtype tensors per block, beyond the traced inventory.
///
/// The one calibrated constant (docs/memory.md): LitGPT's A100 runs of Llama 2 7B keep
/// 5.96 MB per token ((29.07 − 21.30) GB over the 1304 tokens micro-batch 2 adds), the traced
/// inventory gives 5.28 MB: 21.3 kB more per block and token, about one bf16 tensor of width
/// 11008 (22.0 kB). Llama 2 13B's 38.12 GB gives 26.7 kB against 27.6 kB.
pub const CALIBRATED_MLP_TENSORS: u64 = 1;

/// Saturating product.
fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1, |acc, &f| acc.saturating_mul(f))
}

/// Saturating sum.
fn sum(terms: &[u64]) -> u64 {
    terms.iter().fold(0, |acc, &t| acc.saturating_add(t))
}

/// Bytes the decoder blocks and the final norm save for one micro-batch.
pub(super) fn saved(inputs: &MemoryInputs) -> u64 {
    let a = &inputs.arch;
    let b = inputs.compute_dtype.bytes();
    let h = a.hidden_size as u64;
    let block = per_block_token(inputs);
    let layers = a.num_layers as u64;
    let blocks = if inputs.activation_checkpointing {
        // Only block inputs (the residual stream) stay; one block is recomputed at a time.
        sum(&[mul(&[layers, b, h]), block])
    } else {
        mul(&[layers, block])
    };
    let head_lora = if inputs.targets.contains(&LoraTarget::Head) {
        lora_input(inputs, h, 1)
    } else {
        0
    };
    let head_4bit = match inputs.base {
        // A 4-bit head keeps its input for the input gradient, like the block linears.
        BaseFormat::FourBit(q) if q.quantize_head && !a.tie_word_embeddings => mul(&[b, h]),
        _ => 0,
    };
    // The final RMS norm keeps its f32 input, like the block norms.
    let per_token = sum(&[blocks, mul(&[4, h]), head_lora, head_4bit]);
    mul(&[per_token, inputs.tokens()])
}

/// Logits and the log-probabilities the cross-entropy saves, in the compute dtype. Their
/// gradient is produced chunk by chunk (LitGPT uses 128-token chunks), so it is not counted.
pub(super) fn logits(inputs: &MemoryInputs) -> u64 {
    let b = inputs.compute_dtype.bytes();
    mul(&[2, b, inputs.arch.vocab_size as u64, inputs.tokens()])
}

/// Bytes one decoder block saves per token (no checkpointing).
fn per_block_token(inputs: &MemoryInputs) -> u64 {
    let a = &inputs.arch;
    let b = inputs.compute_dtype.bytes();
    let (h, i) = (a.hidden_size as u64, a.intermediate_size as u64);
    let (q, kv) = (a.q_dim() as u64, a.kv_dim() as u64);
    // 1. Two RMS norms computed in f32 keep their f32 input (x·x and x·rsqrt save it).
    let norms = mul(&[2, 4, h]);
    // 2. Attention keeps q, k, v and its output, plus flash attention's f32 logsumexp per
    //    head. With as many kv heads as query heads, v is a view of the fused qkv output, which
    //    therefore stays whole, and RoPE'd q and k are new tensors. With grouped-query
    //    attention LitGPT expands k and v to all heads, so q, k, v are each query-sized copies.
    let qkv = if a.num_kv_heads == a.num_heads {
        sum(&[mul(&[b, sum(&[q, kv, kv])]), mul(&[b, sum(&[q, kv])])])
    } else {
        mul(&[3, b, q])
    };
    let attention = sum(&[qkv, mul(&[b, q]), mul(&[4, a.num_heads as u64])]);
    // 3. SwiGLU: silu's input, its output and the up projection, plus the calibrated tensor.
    let mlp = mul(&[3 + CALIBRATED_MLP_TENSORS, b, i]);
    // 4. LoRA: each dropout keeps its output (and mask), each `A` its input for `B`.
    let t = &inputs.targets;
    let qkv_adapters = [LoraTarget::Query, LoraTarget::Key, LoraTarget::Value]
        .iter()
        .filter(|x| t.contains(x))
        .count() as u64;
    let lora = sum(&[
        // One dropout feeds the fused qkv adapter (LitGPT's LoRAQKVLinear).
        if qkv_adapters > 0 {
            lora_input(inputs, h, qkv_adapters)
        } else {
            0
        },
        if t.contains(&LoraTarget::Projection) {
            lora_input(inputs, q, 1)
        } else {
            0
        },
        if t.contains(&LoraTarget::Mlp) {
            sum(&[
                mul(&[2, lora_input(inputs, h, 1)]),
                lora_input(inputs, i, 1),
            ])
        } else {
            0
        },
    ]);
    // 5. A 4-bit linear keeps its input for the input gradient (bitsandbytes' MatMul4Bit saves
    //    it); a frozen float linear does not (PyTorch saves it only to grad the weight).
    let four_bit = match inputs.base {
        BaseFormat::FourBit(_) => mul(&[b, sum(&[h, q, h, i])]),
        BaseFormat::Float(_) => 0,
    };
    sum(&[norms, attention, mlp, lora, four_bit])
}

/// One adapter input of width `width` feeding `adapters` rank-r `A` matrices.
fn lora_input(inputs: &MemoryInputs, width: u64, adapters: u64) -> u64 {
    let b = inputs.compute_dtype.bytes();
    let mask = u64::from(inputs.lora_dropout > 0.0);
    sum(&[
        mul(&[b + mask, width]),
        mul(&[adapters, b, u64::from(inputs.r)]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::Arch;
    use crate::plan::memory::Precision;

    fn tiny(kv_heads: usize) -> MemoryInputs {
        let mut arch = Arch::builtin("tiny").expect("built in");
        arch.num_kv_heads = kv_heads;
        MemoryInputs::new(arch, &[], 8, Precision::Bf16True, 1)
    }

    #[test]
    fn block_inventory_by_attention_kind() {
        // tiny: h = q = 64, i = 128, 4 heads. Norms 2·4·64 = 512, MLP (3 + 1)·2·128 = 1024,
        // attention output 2·64 plus logsumexp 4·4.
        let common = 512 + 1024 + 128 + 16;
        // Grouped-query (2 kv heads): q, k, v expanded to query size, 3·2·64.
        assert_eq!(per_block_token(&tiny(2)), common + 384);
        // Multi-head: fused qkv kept whole 2·(64 + 128), RoPE'd q and k 2·(64 + 64).
        assert_eq!(per_block_token(&tiny(4)), common + 384 + 256);
    }

    #[test]
    fn lora_inputs_keep_dropout_output_and_mask() {
        let mut run = tiny(4);
        let plain = per_block_token(&run);
        run.targets = vec![LoraTarget::Query, LoraTarget::Value];
        // One dropout on the 64-wide input (2 + 1 bytes each) and two rank-8 A outputs.
        assert_eq!(per_block_token(&run) - plain, 3 * 64 + 2 * 2 * 8);
        run.targets = vec![LoraTarget::Mlp];
        run.lora_dropout = 0.0;
        // gate/up inputs (64 wide) and the down input (128 wide), no masks, three A outputs.
        assert_eq!(
            per_block_token(&run) - plain,
            2 * (64 + 64 + 128) + 3 * 2 * 8
        );
    }
}
