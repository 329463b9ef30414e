//! One pre-norm decoder block.

use burn::module::Module;
use burn::tensor::Tensor;

use super::attention::Attention;
use super::cache::LayerCache;
use super::mlp::Mlp;
use super::rms_norm::RmsNorm;
use super::rope::Rope;

/// `x + attn(norm(x))`, then `x + mlp(norm(x))`.
#[derive(Module, Debug)]
pub struct Block {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Self-attention.
    pub self_attn: Attention,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
    /// Feed-forward.
    pub mlp: Mlp,
}

impl Block {
    /// `[b, s, hidden] → [b, s, hidden]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        start: usize,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let h = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), rope, start, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}
