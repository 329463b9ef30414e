//! The SwiGLU feed-forward block (Shazeer 2020).

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

use super::linear::Linear;

/// `down(silu(gate(x)) ⊙ up(x))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `gate_proj`, `[hidden] → [intermediate]`.
    pub gate_proj: Linear,
    /// `up_proj`, `[hidden] → [intermediate]`.
    pub up_proj: Linear,
    /// `down_proj`, `[intermediate] → [hidden]`.
    pub down_proj: Linear,
}

impl Mlp {
    /// `[b, s, hidden] → [b, s, hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}
