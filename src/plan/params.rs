//! Parameter counts (base and LoRA-trainable) computed from an architecture alone.
//!
//! Counts follow transformers' `LlamaForCausalLM` (bias-free linears, two RMS norms per block,
//! a final norm, `lm_head` counted once when tied) and PEFT's LoRA (`r · (in + out)` per
//! wrapped linear). Both are checked against ../shared/golden/param_counts/param_counts.json.

use crate::ir::target::LoraTarget;

use crate::model::arch::Arch;

/// A bias-free linear layer's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    /// Input features.
    pub in_features: u64,
    /// Output features.
    pub out_features: u64,
}

impl LinearShape {
    const fn new(in_features: usize, out_features: usize) -> LinearShape {
        LinearShape {
            in_features: in_features as u64,
            out_features: out_features as u64,
        }
    }

    /// Weight elements (`in · out`).
    pub fn params(self) -> u64 {
        self.in_features.saturating_mul(self.out_features)
    }

    /// LoRA elements for rank `r`: `A` is `r × in`, `B` is `out × r`.
    pub fn lora_params(self, r: u32) -> u64 {
        u64::from(r).saturating_mul(self.in_features.saturating_add(self.out_features))
    }
}

/// The linears a target wraps inside one decoder block (empty for [`LoraTarget::Head`]).
pub fn block_linears(arch: &Arch, target: LoraTarget) -> Vec<LinearShape> {
    let (h, i) = (arch.hidden_size, arch.intermediate_size);
    match target {
        LoraTarget::Query => vec![LinearShape::new(h, arch.q_dim())],
        LoraTarget::Key | LoraTarget::Value => vec![LinearShape::new(h, arch.kv_dim())],
        LoraTarget::Projection => vec![LinearShape::new(arch.q_dim(), h)],
        LoraTarget::Mlp => vec![
            LinearShape::new(h, i),
            LinearShape::new(h, i),
            LinearShape::new(i, h),
        ],
        LoraTarget::Head => Vec::new(),
    }
}

/// The output head `lm_head` (`hidden → vocab`).
pub fn head_linear(arch: &Arch) -> LinearShape {
    LinearShape::new(arch.hidden_size, arch.vocab_size)
}

/// Every weight of the linears inside the decoder blocks (what 4-bit quantization packs).
pub fn block_linear_params(arch: &Arch) -> u64 {
    let per_layer: u64 = [
        LoraTarget::Query,
        LoraTarget::Key,
        LoraTarget::Value,
        LoraTarget::Projection,
        LoraTarget::Mlp,
    ]
    .into_iter()
    .flat_map(|t| block_linears(arch, t))
    .fold(0u64, |acc, l| acc.saturating_add(l.params()));
    per_layer.saturating_mul(arch.num_layers as u64)
}

/// Elements of the token embedding.
pub fn embedding_params(arch: &Arch) -> u64 {
    (arch.vocab_size as u64).saturating_mul(arch.hidden_size as u64)
}

/// Elements of all RMS-norm weights (two per block plus the final norm).
pub fn norm_params(arch: &Arch) -> u64 {
    (arch.num_layers as u64)
        .saturating_mul(2)
        .saturating_add(1)
        .saturating_mul(arch.hidden_size as u64)
}

/// Total base-model parameters; a tied `lm_head` is counted once (with the embedding).
///
/// Like every count here it saturates at `u64::MAX` instead of overflowing on absurd shapes.
pub fn base_params(arch: &Arch) -> u64 {
    let head = if arch.tie_word_embeddings {
        0
    } else {
        head_linear(arch).params()
    };
    [block_linear_params(arch), norm_params(arch), head]
        .into_iter()
        .fold(embedding_params(arch), u64::saturating_add)
}

/// Trainable LoRA parameters for rank `r` on `targets` (duplicates count once).
///
/// `Head` wraps `lm_head` even when it is tied to the embedding: PEFT does the same (and
/// only warns), so the adapter has its own `A` (`r × hidden`) and `B` (`vocab × r`).
pub fn lora_params(arch: &Arch, targets: &[LoraTarget], r: u32) -> u64 {
    LoraTarget::ALL
        .into_iter()
        .filter(|t| targets.contains(t))
        .map(|t| match t {
            LoraTarget::Head => head_linear(arch).lora_params(r),
            _ => {
                let per_layer = block_linears(arch, t)
                    .into_iter()
                    .fold(0u64, |acc, l| acc.saturating_add(l.lora_params(r)));
                per_layer.saturating_mul(arch.num_layers as u64)
            }
        })
        .fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_defaults() {
        // The seed article: 4,194,304 LoRA parameters on 6,738,415,616 base parameters.
        let a = Arch::builtin("llama2-7b").expect("built in");
        assert_eq!(base_params(&a), 6_738_415_616);
        let qv = [LoraTarget::Query, LoraTarget::Value];
        assert_eq!(lora_params(&a, &qv, 8), 4_194_304);
        let twice = [LoraTarget::Value, LoraTarget::Query, LoraTarget::Value];
        assert_eq!(lora_params(&a, &twice, 8), 4_194_304);
        assert_eq!(lora_params(&a, &[], 8), 0);
    }

    #[test]
    fn gqa_shapes() {
        let a = Arch::builtin("smollm2-135m").expect("built in");
        assert_eq!(block_linears(&a, LoraTarget::Key)[0].out_features, 192);
        assert_eq!(
            block_linears(&a, LoraTarget::Projection)[0].in_features,
            576
        );
    }
}
