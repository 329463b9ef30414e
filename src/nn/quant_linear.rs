//! A frozen linear weight held as bitsandbytes 4-bit blocks (QLoRA's base weight).
//!
//! The packed bytes stay in HF layout `[d_out, d_in]`, exactly as bitsandbytes quantizes them,
//! so a cached or pre-quantized checkpoint carries over byte for byte. They live once, on the
//! device, as a [`Packed4`]; [`PackedWeight::matmul`] goes through `lpipe_kernels::Q4Backend`,
//! whose autodiff op keeps only the packed weight (and the 8-bit statistics) for the backward
//! pass and dequantizes again there, as bitsandbytes does. The dense f32 weight exists only
//! for the duration of one gemm, so peak memory is QLoRA's, not LoRA's plus the packed copy.

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use lpipe_kernels::{Packed4, Q4Layout};

use crate::quant::{Absmax, QuantError, QuantizedTensor};

/// A `[d_out, d_in]` weight quantized to NF4/FP4, dequantized on every use.
#[derive(Module, Debug)]
pub struct PackedWeight {
    /// Everything but the packed bytes (`packed` is empty: the bytes live in `weight`).
    #[module(skip)]
    stats: Arc<QuantizedTensor>,
    /// The packed nibbles and statistics on `device` (behind an `Arc`: tensor handles are
    /// large, and `LinearWeight`'s variants should stay small).
    #[module(skip)]
    weight: Arc<Packed4>,
    /// The device of `weight` (never an autodiff device: the base is frozen).
    #[module(skip)]
    device: Device,
}

impl PackedWeight {
    /// Wraps a 2-D 4-bit tensor `[d_out, d_in]`; fails when it is inconsistent or not 2-D.
    pub fn new(mut quantized: QuantizedTensor, device: &Device) -> Result<Self, QuantError> {
        quantized.validate("<linear weight>")?;
        if quantized.shape.len() != 2 {
            return Err(QuantError::Inconsistent {
                name: "<linear weight>".into(),
                reason: format!("shape {:?} is not [d_out, d_in]", quantized.shape),
            });
        }
        let device = device.clone().without_autodiff();
        let weight = Arc::new(quantized.to_device(&device));
        quantized.packed = Vec::new();
        Ok(Self {
            stats: Arc::new(quantized),
            weight,
            device,
        })
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        match self.stats.shape[..] {
            [o, i] => (i, o),
            _ => (0, 0),
        }
    }

    /// The bitsandbytes tensor (the packed bytes read back from the device).
    pub fn quantized(&self) -> QuantizedTensor {
        let words: Vec<i32> = self
            .weight
            .packed
            .clone()
            .into_data()
            .convert::<i32>()
            .try_into_vec()
            .unwrap_or_default();
        let mut packed: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        packed.truncate(self.stats.numel().div_ceil(2));
        QuantizedTensor {
            packed,
            ..(*self.stats).clone()
        }
    }

    /// `x · Wᵀ` for `x: [.., d_in]`, differentiable in `x` only; the backward pass dequantizes
    /// the packed weight again instead of keeping a dense copy.
    pub fn matmul<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if x.device().without_autodiff() == self.device {
            self.weight.matmul(x)
        } else {
            // A model moved to another device: upload for this call.
            self.quantized()
                .to_device(&x.device().without_autodiff())
                .matmul(x)
        }
    }

    /// The dequantized weight in HF layout, row-major `[d_out, d_in]`.
    pub fn dequantize_hf(&self) -> Vec<f32> {
        self.weight
            .dequantize()
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .unwrap_or_default()
    }

    /// The dequantized weight as a `[d_in, d_out]` tensor (a transposed view of the HF layout).
    pub fn dense(&self) -> Tensor<2> {
        self.weight.dequantize().transpose()
    }

    /// [`Self::dense`] on `device`'s backend, without autodiff (the base gets no gradient).
    pub fn dense_on(&self, device: &Device) -> Tensor<2> {
        let device = device.clone().without_autodiff();
        if device == self.device {
            self.dense()
        } else {
            self.quantized().to_device(&device).dequantize().transpose()
        }
    }

    /// Bytes of packed weights plus statistics.
    pub fn nbytes(&self) -> usize {
        self.stats.numel().div_ceil(2) + self.stats.absmax.nbytes()
    }
}

/// Dequantizes `q` into `out` with precomputed per-block `scales` on the host (what `flex`
/// runs: a byte → code-pair table and the blocks split across threads). Each value is the f32
/// product `code[nibble] * scale` bitsandbytes forms, so it equals `quant::dequantize_f32` bit
/// for bit.
pub fn dequantize_par(q: &QuantizedTensor, scales: &[f32], out: &mut [f32]) {
    let layout = Q4Layout {
        rows: 1,
        cols: q.numel(),
        block_size: q.block_size,
    };
    lpipe_kernels::host::dequantize_4bit(&q.packed, &q.code, scales, layout, out);
}

/// The f32 absmax per block of `q` (dequantized when nested).
pub fn scales(q: &QuantizedTensor) -> Vec<f32> {
    match &q.absmax {
        Absmax::Plain(a) => a.clone(),
        Absmax::Nested(n) => n.dequantize(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{QuantType, dequantize_f32, quantize};

    fn weights(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.05)
            .collect()
    }

    #[test]
    fn parallel_dequantize_equals_reference_bit_for_bit() {
        // Odd sizes leave a partial last block and a half-used last byte.
        for (o, i, qt, dq, bs) in [
            (257, 300, QuantType::Nf4, true, 64),
            (33, 65, QuantType::Fp4, false, 128),
            (512, 384, QuantType::Nf4, false, 64),
        ] {
            let w = weights(o * i);
            let q = quantize("w", &w, &[o, i], qt, bs, dq).unwrap();
            let want = dequantize_f32(&q).unwrap();
            let mut par = vec![f32::NAN; want.len()];
            dequantize_par(&q, &scales(&q), &mut par);
            let p = PackedWeight::new(q.clone(), &Device::flex()).unwrap();
            assert_eq!(p.quantized(), q);
            let got = p.dequantize_hf();
            assert!(
                par.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{o}x{i}"
            );
            assert_eq!(p.dims(), (i, o));
        }
    }

    #[test]
    fn rejects_non_matrix() {
        let q = quantize("w", &weights(64), &[64], QuantType::Nf4, 64, false).unwrap();
        assert!(PackedWeight::new(q, &Device::flex()).is_err());
    }
}
