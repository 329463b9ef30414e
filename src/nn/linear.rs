//! Linear layers with a frozen base weight and an optional LoRA adapter.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::lora::{Lora, LoraConfig};
use super::quant_linear::PackedWeight;

/// How a frozen base weight is stored.
// `Tensor`'s size depends on the backends compiled in (640 bytes with `cuda`): boxing it would
// add an indirection on the dense path to please a lint that only fires in that build.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum LinearWeight {
    /// `f32` (or backend float) weight, stored `[d_in, d_out]` so `x·W` needs no transpose.
    Dense(Tensor<2>),
    /// bitsandbytes NF4/FP4 blocks (QLoRA), dequantized for each use.
    Packed4(PackedWeight),
}

impl LinearWeight {
    /// `x · W` for the stored weight.
    pub fn matmul<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Dense(w) => super::parallel::linear(x, w),
            // Dequantized inside the op (forward, and again in backward): no dense copy is kept.
            Self::Packed4(p) => p.matmul(x),
        }
    }

    /// The weight as a dense `[d_in, d_out]` tensor.
    pub fn dense(&self) -> Tensor<2> {
        match self {
            Self::Dense(w) => w.clone(),
            Self::Packed4(p) => p.dense(),
        }
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Self::Dense(w) => {
                let [i, o] = w.dims();
                (i, o)
            }
            Self::Packed4(p) => p.dims(),
        }
    }
}

/// `y = x·Wᵀ + scaling·B·A·x`: a frozen base (never tracked by autodiff) plus a trainable adapter.
#[derive(Module, Debug)]
pub struct Linear {
    /// Frozen base weight.
    pub weight: LinearWeight,
    /// Trainable adapter, if this layer is a LoRA target.
    pub lora: Option<Lora>,
}

impl Linear {
    /// A dense layer from a row-major HF-layout weight `[d_out, d_in]`.
    pub fn from_hf(values: &[f32], d_out: usize, d_in: usize, device: &Device) -> Self {
        // Transposed once on the host: a contiguous [d_in, d_out] is gemm's natural layout.
        let mut t = vec![0.0f32; values.len()];
        for (o, row) in values.chunks_exact(d_in).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                t[i * d_out + o] = v;
            }
        }
        let w = Tensor::<2>::from_data(TensorData::new(t, [d_in, d_out]), device);
        Self::from_transposed(w)
    }

    /// A dense layer from a weight tensor `[d_in, d_out]`.
    pub fn from_transposed(w: Tensor<2>) -> Self {
        Self {
            weight: LinearWeight::Dense(w),
            lora: None,
        }
    }

    /// Input width.
    pub fn d_in(&self) -> usize {
        self.weight.dims().0
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        self.weight.dims().1
    }

    /// Adds a fresh adapter (replacing any existing one).
    pub fn with_lora(mut self, config: &LoraConfig, device: &Device) -> Self {
        self.lora = Some(config.init(self.d_in(), self.d_out(), device));
        self
    }

    /// `[..., d_in] → [..., d_out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match &self.lora {
            None => self.weight.matmul(x),
            Some(lora) => self.weight.matmul(x.clone()) + lora.forward(x),
        }
    }

    /// Folds the adapter into a dense base weight (PEFT `merge_and_unload`).
    pub fn merge(self) -> Self {
        let Some(lora) = self.lora else { return self };
        let merged = self.weight.dense().without_autodiff()
            + lora.delta_weight().transpose().without_autodiff();
        Self {
            weight: LinearWeight::Dense(merged),
            lora: None,
        }
    }
}
