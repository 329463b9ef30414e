//! CubeCL kernel: packed 4-bit weight → f32 (reference: `reference::dequantize_4bit`).

use cubecl::prelude::*;

/// One thread per element: `out[i] = code[nibble(i)] * absmax[i / block_size]`.
#[cube(launch)]
pub fn dequantize_4bit_kernel(
    packed: &Tensor<i32>,
    code: &Tensor<f32>,
    absmax: &Tensor<f32>,
    output: &mut Tensor<f32>,
    block_size: u32,
) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    output[i] = code[nibble(packed, i)] * absmax[i / block_size as usize];
}

/// Element `i`'s code index: word `i / 8`, byte `(i % 8) / 2` little-endian, high nibble first.
#[cube]
pub fn nibble(packed: &Tensor<i32>, i: usize) -> usize {
    let word = u32::cast_from(packed[i / 8]);
    let j = (i % 8) as u32;
    let shift = (j / 2) * 8 + 4 - (j % 2) * 4;
    ((word >> shift) & 15) as usize
}
