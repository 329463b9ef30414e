//! CubeCL kernel: packed 4-bit weight → float (reference: `reference::dequantize_4bit`).

use cubecl::prelude::*;

/// One thread per packed i32 word (eight elements), written as `8 / N` vectors of `N`:
/// `out[i] = F(code[nibble(i)] * absmax[i / block_size])`, the product formed in f32 as
/// bitsandbytes does and rounded once to `F`. Bandwidth-bound: one 4-byte read and 8·size(F)
/// bytes written per thread, vectorized to 16-byte stores for bf16 and f32.
///
/// `N > 1` needs `numel % 8 == 0` (every word full); with `N == 1` the tail is bounds-checked.
/// With `word_block` (block size a multiple of 8, as every bitsandbytes block size is) the eight
/// elements of a word share one block: one division and one absmax load per thread, not eight.
#[cube(launch_unchecked)]
pub fn dequantize_4bit_kernel<F: Float, N: Size>(
    packed: &Tensor<i32>,
    code: &Tensor<f32>,
    absmax: &Tensor<f32>,
    output: &mut Tensor<Vector<F, N>>,
    numel: usize,
    block_size: u32,
    #[comptime] word_block: bool,
    #[define(F)] _dtype: ElemType,
) {
    let w = ABSOLUTE_POS;
    if w >= packed.len() {
        terminate!();
    }
    let n = output.vector_size().comptime();
    let word = u32::cast_from(packed[w]);
    let base = w * 8;
    let bs = block_size as usize;
    // `base < numel` for every launched word, so its block exists.
    let word_scale = absmax[base / bs];
    #[unroll]
    for v in 0..8 / n {
        let mut reg = Vector::<F, N>::empty();
        #[unroll]
        for k in 0..n {
            let j = v * n + k;
            // Byte j / 2 of the word (little-endian), high nibble first.
            let shift = ((j / 2) * 8 + 4 - (j % 2) * 4) as u32;
            let q = ((word >> shift) & 15) as usize;
            let mut scale = word_scale;
            if !word_block {
                let i = base + j;
                // The last word of a weight whose size is not a multiple of 8 is padded; those
                // elements are never written, and must not index past the last block.
                let b = if i < numel { i / bs } else { 0usize };
                scale = absmax[b];
            }
            reg.insert(k, F::cast_from(code[q] * scale));
        }
        if base + v * n < numel {
            output[w * (8 / n) + v] = reg;
        }
    }
}

/// Element `i`'s code index: word `i / 8`, byte `(i % 8) / 2` little-endian, high nibble first.
#[cube]
pub fn nibble(packed: &Tensor<i32>, i: usize) -> usize {
    let word = u32::cast_from(packed[i / 8]);
    let j = (i % 8) as u32;
    let shift = (j / 2) * 8 + 4 - (j % 2) * 4;
    ((word >> shift) & 15) as usize
}
