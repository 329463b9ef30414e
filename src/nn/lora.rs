//! LoRA adapters (Hu et al. 2021) with PEFT's initialisation, scaling and naming.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Distribution, Tensor};

/// Settings of one LoRA adapter, as in PEFT's `LoraConfig`.
#[derive(Config, Debug, PartialEq)]
pub struct LoraConfig {
    /// Rank `r` of the update `B·A`.
    pub rank: usize,
    /// Scaling numerator α.
    #[config(default = 16.0)]
    pub alpha: f64,
    /// Dropout probability on the adapter's input, in `[0, 1)` (Burn's dropout panics outside).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// rsLoRA: scale by `α/√r` instead of `α/r`.
    #[config(default = false)]
    pub use_rslora: bool,
}

impl LoraConfig {
    /// The factor multiplying `B·A·x`.
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.alpha / (self.rank as f64).sqrt()
        } else {
            self.alpha / self.rank as f64
        }
    }

    /// A fresh adapter for a `[d_in] → [d_out]` linear: `A` Kaiming-uniform (a = √5), `B` zero,
    /// so the wrapped layer starts out unchanged (PEFT `reset_lora_parameters`).
    pub fn init(&self, d_in: usize, d_out: usize, device: &Device) -> Lora {
        // kaiming_uniform_(a=√5): gain √(2/(1+a²)) = √(1/3), bound = gain·√(3/fan_in) = 1/√fan_in.
        let bound = 1.0 / (d_in as f64).sqrt();
        let a = Tensor::<2>::random(
            [self.rank, d_in],
            Distribution::Uniform(-bound, bound),
            device,
        );
        let b = Tensor::<2>::zeros([d_out, self.rank], device);
        self.with_weights(a, b)
    }

    /// An adapter with given factors `A [r, d_in]` and `B [d_out, r]` (loading a saved adapter).
    pub fn with_weights(&self, a: Tensor<2>, b: Tensor<2>) -> Lora {
        Lora {
            a: Param::from_tensor(a),
            b: Param::from_tensor(b),
            dropout: DropoutConfig::new(self.dropout).init(),
            scaling: self.scaling(),
        }
    }
}

/// A trainable low-rank update `ΔW = scaling · B·A` beside a frozen linear.
#[derive(Module, Debug)]
pub struct Lora {
    /// `lora_A.weight`, `[r, d_in]`.
    pub a: Param<Tensor<2>>,
    /// `lora_B.weight`, `[d_out, r]`.
    pub b: Param<Tensor<2>>,
    /// Dropout on the adapter's input (active only on autodiff devices in training mode).
    pub dropout: Dropout,
    /// `α/r` (or `α/√r` for rsLoRA).
    pub scaling: f64,
}

impl Lora {
    /// Rank `r`.
    pub fn rank(&self) -> usize {
        self.a.val().dims()[0]
    }

    /// `scaling · dropout(x) · Aᵀ · Bᵀ`, `[..., d_in] → [..., d_out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let a = self.a.val();
        // The frozen base carries no autodiff graph; the input must join A's graph for dropout
        // (and gradients) to apply on the first adapted layer.
        let x = if a.is_autodiff() { x.autodiff() } else { x };
        let x = self.dropout.forward(x);
        // Two thin matmuls through rank r, never the dense d_out×d_in product.
        let h = burn::tensor::module::linear(x, a.transpose(), None);
        let y = burn::tensor::module::linear(h, self.b.val().transpose(), None);
        y.mul_scalar(self.scaling)
    }

    /// The dense update `scaling · B·A`, `[d_out, d_in]`.
    pub fn delta_weight(&self) -> Tensor<2> {
        self.b.val().matmul(self.a.val()).mul_scalar(self.scaling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn peft_init_and_scaling() {
        let d = Device::flex();
        let cfg = LoraConfig::new(8).with_alpha(16.0);
        assert_eq!(cfg.scaling(), 2.0);
        assert_eq!(
            cfg.clone().with_use_rslora(true).scaling(),
            16.0 / 8f64.sqrt()
        );
        let lora = cfg.init(400, 30, &d);
        assert_eq!(lora.rank(), 8);
        assert!(values(lora.b.val()).iter().all(|&v| v == 0.0));
        let a = values(lora.a.val());
        let bound = 1.0 / 20.0; // 1/√400
        assert!(a.iter().all(|v| v.abs() <= bound));
        // Uniform(-b, b) has variance b²/3; 3200 draws pin it within a few percent.
        let var = a.iter().map(|v| (v * v) as f64).sum::<f64>() / a.len() as f64;
        let want = (bound * bound / 3.0) as f64;
        assert!((var / want - 1.0).abs() < 0.1, "{var} vs {want}");
    }

    #[test]
    fn dropout_applies_only_when_training_on_autodiff() {
        let cfg = LoraConfig::new(2).with_dropout(0.5);
        let x = Tensor::<2>::ones([64, 16], &Device::flex());
        let ones = |d: &Device| {
            let a = Tensor::<2>::ones([2, 16], d);
            let b = Tensor::<2>::ones([16, 2], d);
            cfg.with_weights(a, b)
        };
        // Plain device: deterministic, 2 (rank) · 16 (inputs) · scaling 8 = 256 everywhere.
        let y = values(ones(&Device::flex()).forward(x.clone()));
        assert!(y.iter().all(|&v| v == 256.0));
        // Autodiff device: inputs are dropped (and rescaled), so outputs vary.
        let y = values(ones(&Device::flex().autodiff()).forward(x));
        assert!(y.iter().any(|&v| v != 256.0));
    }
}
