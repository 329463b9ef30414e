//! CubeCL kernel: the input gradient `dx = dy · W` of `x · Wᵀ`, `W` dequantized on the fly
//! (reference: `reference::matmul_4bit_input_grad`).

use cubecl::prelude::*;

use crate::dequant_4bit::nibble;

/// One thread per `(m, k)`: `dx[m, k] = Σ_o dy[m, o] · W[o, k]`. `dy` is `[m, rows]` contiguous,
/// `dx` `[m, cols]`.
#[cube(launch)]
pub fn matmul_4bit_grad_kernel(
    dy: &Tensor<f32>,
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
    let m = pos / cols;
    let k = pos % cols;
    let mut acc = 0.0f32;
    for o in 0..rows {
        let i = o * cols + k;
        let w = code[nibble(packed, i)] * absmax[i / bs];
        acc += dy[m * rows + o] * w;
    }
    output[pos] = acc;
}
