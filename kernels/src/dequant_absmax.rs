//! CubeCL kernel: double-quantized absmax → f32 (reference: `reference::dequantize_absmax`).

use cubecl::prelude::*;

/// One thread per block: `out[i] = code2[q(i)] * absmax2[i / block_size]`.
///
/// The reference (and bitsandbytes) then adds the offset as a separate f32 add. Written in one
/// kernel as `a * b + offset`, CUDA's compiler contracts it into one fused multiply-add, which
/// rounds once instead of twice and changes the last bit of some blocks' absmax (found on an
/// H200: every double-quantized case failed, lavapipe does not contract). So the launcher adds
/// the offset in a kernel of its own.
#[cube(launch)]
pub fn dequantize_absmax_kernel(
    codes: &Tensor<i32>,
    absmax2: &Tensor<f32>,
    code2: &Tensor<f32>,
    output: &mut Tensor<f32>,
    block_size: u32,
) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    let word = u32::cast_from(codes[i / 4]);
    let q = ((word >> (((i % 4) as u32) * 8)) & 255) as usize;
    output[i] = code2[q] * absmax2[i / block_size as usize];
}
