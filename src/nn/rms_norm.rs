//! Root-mean-square layer normalisation (Zhang & Sennrich 2019), as Llama computes it.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

/// `x / √(mean(x²) + ε) · w` over the last dimension; the weight is frozen.
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// Per-channel gain `[d]`.
    pub weight: Tensor<1>,
    /// ε added to the mean square.
    pub eps: f64,
}

impl RmsNorm {
    /// A norm with the given gain.
    pub fn new(weight: &[f32], eps: f64, device: &Device) -> Self {
        let weight = Tensor::from_data(TensorData::new(weight.to_vec(), [weight.len()]), device);
        Self { weight, eps }
    }

    /// Normalises `[..., d]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // Same order as transformers' LlamaRMSNorm: normalise, then scale by the weight.
        let inv = x
            .clone()
            .square()
            .mean_dim(D - 1)
            .add_scalar(self.eps)
            .sqrt()
            .recip();
        let w = self.weight.clone().unsqueeze::<D>();
        (x * inv) * w
    }
}
