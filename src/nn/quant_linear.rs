//! A frozen linear weight held as bitsandbytes 4-bit blocks (QLoRA's base weight).
//!
//! The packed bytes stay in HF layout `[d_out, d_in]`, exactly as bitsandbytes quantizes them,
//! so a cached or pre-quantized checkpoint carries over byte for byte. Each forward call
//! dequantizes into a transient dense tensor (the reference path on the CPU backend) and hands
//! it to the ordinary matmul as a constant: autodiff then gives the input gradient only, and the
//! frozen base never gets one.

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::quant::{QuantError, QuantizedTensor};

/// Elements below which one thread dequantizes faster than several.
const MIN_PARALLEL_ELEMENTS: usize = 1 << 16;

/// A `[d_out, d_in]` weight quantized to NF4/FP4, dequantized on every use.
#[derive(Module, Debug)]
pub struct PackedWeight {
    /// The packed nibbles and block statistics, bit-exact with bitsandbytes.
    #[module(skip)]
    pub quantized: Arc<QuantizedTensor>,
    /// The f32 absmax of every block (double-quantized ones expanded once, not per forward).
    #[module(skip)]
    scales: Arc<Vec<f32>>,
    /// Where the transient dense weight is created (never an autodiff device: it is frozen).
    #[module(skip)]
    device: Device,
}

impl PackedWeight {
    /// Wraps a 2-D 4-bit tensor `[d_out, d_in]`; fails when it is inconsistent or not 2-D.
    pub fn new(quantized: QuantizedTensor, device: &Device) -> Result<Self, QuantError> {
        quantized.validate("<linear weight>")?;
        if quantized.shape.len() != 2 {
            return Err(QuantError::Inconsistent {
                name: "<linear weight>".into(),
                reason: format!("shape {:?} is not [d_out, d_in]", quantized.shape),
            });
        }
        let scales = quantized.absmax.values().into_owned();
        Ok(Self {
            quantized: Arc::new(quantized),
            scales: Arc::new(scales),
            device: device.clone().without_autodiff(),
        })
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        match self.quantized.shape[..] {
            [o, i] => (i, o),
            _ => (0, 0),
        }
    }

    /// The dequantized weight in HF layout, row-major `[d_out, d_in]`.
    pub fn dequantize_hf(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.quantized.numel()];
        dequantize_par(&self.quantized, &self.scales, &mut out);
        out
    }

    /// The dequantized weight as a `[d_in, d_out]` tensor (a transposed view of the HF layout).
    pub fn dense(&self) -> Tensor<2> {
        self.dense_on(&self.device)
    }

    /// [`Self::dense`] on `device`'s backend, without autodiff (the base gets no gradient).
    pub fn dense_on(&self, device: &Device) -> Tensor<2> {
        let (d_in, d_out) = self.dims();
        let data = TensorData::new(self.dequantize_hf(), [d_out, d_in]);
        Tensor::<2>::from_data(data, &device.clone().without_autodiff()).transpose()
    }

    /// Bytes of packed weights plus statistics.
    pub fn nbytes(&self) -> usize {
        self.quantized.nbytes()
    }
}

/// Dequantizes `q` into `out` with precomputed per-block `scales`, split over the threads of
/// [`super::parallel::threads`] on block boundaries. Each block builds its 16-entry table
/// `code[i] * scale` once, the same f32 product bitsandbytes forms per element, so the values
/// equal `quant::dequantize_f32` bit for bit.
pub fn dequantize_par(q: &QuantizedTensor, scales: &[f32], out: &mut [f32]) {
    let bs = q.block_size.max(2);
    let n = out.len().min(q.numel());
    let threads = if n < MIN_PARALLEL_ELEMENTS {
        1
    } else {
        super::parallel::threads()
    };
    let blocks_per_chunk = n.div_ceil(bs).div_ceil(threads).max(1);
    let elems = blocks_per_chunk * bs;
    let code = &q.code;
    std::thread::scope(|s| {
        let mut jobs = out[..n]
            .chunks_mut(elems)
            .zip(q.packed.chunks(elems / 2))
            .zip(scales.chunks(blocks_per_chunk));
        let first = jobs.next();
        for ((o, b), sc) in jobs {
            s.spawn(move || dequantize_blocks(code, bs, b, sc, o));
        }
        if let Some(((o, b), sc)) = first {
            dequantize_blocks(code, bs, b, sc, o);
        }
    });
}

fn dequantize_blocks(code: &[f32; 16], bs: usize, bytes: &[u8], scales: &[f32], out: &mut [f32]) {
    for ((out, bytes), &scale) in out.chunks_mut(bs).zip(bytes.chunks(bs / 2)).zip(scales) {
        let table: [f32; 16] = std::array::from_fn(|i| code[i] * scale);
        let half = out.len() / 2;
        let mut pairs = out.chunks_exact_mut(2);
        for (pair, &byte) in (&mut pairs).zip(bytes) {
            pair[0] = table[usize::from(byte >> 4)];
            pair[1] = table[usize::from(byte & 15)];
        }
        // An odd tensor's last element sits alone in the high nibble of the last byte.
        if let ([last], Some(&byte)) = (pairs.into_remainder(), bytes.get(half)) {
            *last = table[usize::from(byte >> 4)];
        }
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
            let p = PackedWeight::new(q, &Device::flex()).unwrap();
            let got = p.dequantize_hf();
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
