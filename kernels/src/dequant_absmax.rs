//! CubeCL kernel: double-quantized absmax → f32 (reference: `reference::dequantize_absmax`).

use cubecl::prelude::*;

/// One thread per block: `out[i] = code2[q(i)] * absmax2[i / block_size] + offset`.
#[cube(launch)]
pub fn dequantize_absmax_kernel(
    codes: &Tensor<i32>,
    absmax2: &Tensor<f32>,
    code2: &Tensor<f32>,
    output: &mut Tensor<f32>,
    offset: f32,
    block_size: u32,
) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    let word = u32::cast_from(codes[i / 4]);
    let q = ((word >> (((i % 4) as u32) * 8)) & 255) as usize;
    let scaled = code2[q] * absmax2[i / block_size as usize];
    output[i] = scaled + offset;
}
