//! Double quantization of the absmax values as bitsandbytes' CPU backend does it.
//!
//! `offset = mean(absmax)` (torch's float32 mean, [`torch_mean_f32`]); `absmax - offset` is
//! quantized blockwise (256 per block) to the 8-bit dynamic code by the native CPU kernel
//! (`csrc/cpu_ops.cpp`, `quantize_cpu_impl`), which is not an exact nearest-code search: it maps
//! `v = clamp(x * (1 / absmax2), -1, 1)` to `u16((v + 1) * 0.5 * 65535 + 0.5)` and reads the code
//! from a 65536-entry table built from the code's midpoints. Two codes of the golden `w256x128`
//! case differ from true nearest for that reason; this module reproduces the table, so it matches
//! bitsandbytes rather than nearest. An all-zero block keeps code 0 and stores absmax 0.

use std::sync::OnceLock;

use super::dynamic_map::dynamic_map;
use super::tensor::NestedAbsmax;
use super::torch_mean::torch_mean_f32;

/// Absmax values per second-level block (bitsandbytes hardcodes 256).
pub const NESTED_BLOCK_SIZE: usize = 256;
/// Entries of the CPU quantizer's lookup table.
const LUT_SIZE: usize = 65536;

/// The dynamic code, computed once.
pub fn dynamic_code() -> &'static [f32] {
    static CODE: OnceLock<Vec<f32>> = OnceLock::new();
    CODE.get_or_init(dynamic_map)
}

fn lookup_table() -> &'static [u8] {
    static LUT: OnceLock<Vec<u8>> = OnceLock::new();
    LUT.get_or_init(|| build_lut(dynamic_code()))
}

/// `build_quantize_lut`: for each of 65536 evenly spaced values in [-1, 1], the number of code
/// midpoints strictly below it.
fn build_lut(code: &[f32]) -> Vec<u8> {
    let mids: Vec<f32> = code.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    (0..LUT_SIZE)
        .map(|j| {
            let v = -1.0 + (2.0 * j as f32) / (LUT_SIZE - 1) as f32;
            mids.partition_point(|&m| m < v) as u8
        })
        .collect()
}

/// Double-quantizes per-block absmax values.
pub fn quantize_absmax(absmax: &[f32]) -> NestedAbsmax {
    let offset = torch_mean_f32(absmax);
    let centered: Vec<f32> = absmax.iter().map(|&a| a - offset).collect();
    let (codes, absmax2) = quantize_blockwise_8bit(&centered, NESTED_BLOCK_SIZE);
    NestedAbsmax {
        codes,
        offset,
        absmax: absmax2,
        block_size: NESTED_BLOCK_SIZE,
        code: dynamic_code().to_vec(),
    }
}

/// bitsandbytes' CPU 8-bit blockwise quantizer with the dynamic code: codes and absmax per block.
pub fn quantize_blockwise_8bit(x: &[f32], block_size: usize) -> (Vec<u8>, Vec<f32>) {
    let lut = lookup_table();
    let mut codes = vec![0u8; x.len()];
    let mut absmax = Vec::with_capacity(x.len().div_ceil(block_size));
    for (block, out) in x.chunks(block_size).zip(codes.chunks_mut(block_size)) {
        let m = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        absmax.push(m);
        if m == 0.0 {
            continue;
        }
        let inv = 1.0 / m;
        for (v, q) in block.iter().zip(out.iter_mut()) {
            let v = (v * inv).clamp(-1.0, 1.0);
            let index = ((v + 1.0) * 0.5 * 65535.0 + 0.5) as usize;
            *q = lut.get(index).copied().unwrap_or(u8::MAX);
        }
    }
    (codes, absmax)
}
