//! CubeCL kernel: `y = x · Wᵀ` with `W` dequantized on the fly (reference:
//! `reference::matmul_4bit`). The dense weight is never materialized.

use cubecl::prelude::*;

use crate::dequant_4bit::nibble;

/// One thread per output `(m, o)`: `y[m, o] = Σ_k x[m, k] · code[nib(o, k)] · absmax[(o·cols+k)/bs]`.
/// `x` is `[m, cols]` contiguous, `y` `[m, rows]`.
#[cube(launch)]
pub fn matmul_4bit_kernel(
    x: &Tensor<f32>,
    packed: &Tensor<i32>,
    code: &Tensor<f32>,
    absmax: &Tensor<f32>,
    output: &mut Tensor<f32>,
    rows: u32,
    cols: u32,
    block_size: u32,
) {
    let pos = ABSOLUTE_POS;
    if pos >= output.len() {
        terminate!();
    }
    let rows = rows as usize;
    let cols = cols as usize;
    let bs = block_size as usize;
    let m = pos / rows;
    let o = pos % rows;
    let mut acc = 0.0f32;
    for k in 0..cols {
        let i = o * cols + k;
        let w = code[nibble(packed, i)] * absmax[i / bs];
        acc += x[m * cols + k] * w;
    }
    output[pos] = acc;
}
