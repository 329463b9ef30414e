//! Host (CPU) implementations of the 4-bit operations on plain slices: what `flex` runs.
//!
//! Every value is the single f32 product `code[nibble] * absmax[block]` (plus `offset` for
//! double-quantized absmax), the same product the reference and the kernels form, so results
//! are bit-identical to them. Speed comes from a 256-entry byte → (high, low) code-pair table
//! (two outputs per byte from one load) and splitting the blocks across scoped threads.

use std::sync::OnceLock;

use crate::layout::{NestedLayout, Q4Layout};

/// Elements below which one thread dequantizes faster than several.
const MIN_PARALLEL_ELEMENTS: usize = 1 << 16;

/// Threads used: `$LPIPE_THREADS`, else the available parallelism (lpipe re-exports it).
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("LPIPE_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// Runs `f(first_element, chunk)` over `out` cut into `chunk`-element pieces, the first on this
/// thread and the rest on scoped threads.
fn par_chunks(out: &mut [f32], chunk: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let f = &f;
    std::thread::scope(|s| {
        let mut pieces = out.chunks_mut(chunk.max(1)).enumerate();
        let first = pieces.next();
        for (c, piece) in pieces {
            s.spawn(move || f(c * chunk, piece));
        }
        if let Some((_, piece)) = first {
            f(0, piece);
        }
    });
}

/// Element `i`'s code index: byte `i / 2`, high nibble for even `i`; missing bytes read as 0.
fn nibble(bytes: &[u8], i: usize) -> usize {
    let byte = bytes.get(i / 2).copied().unwrap_or(0);
    usize::from(if i.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 15
    })
}

/// Dequantizes `layout.numel()` elements of bitsandbytes-packed `bytes` (element `2j` in the
/// high nibble of byte `j`) into `out`: `out[i] = code[nib(i)] * absmax[i / block_size]`.
///
/// Inconsistent inputs never panic: missing bytes read as nibble 0, missing blocks as absmax 0.
pub fn dequantize_4bit(
    bytes: &[u8],
    code: &[f32; 16],
    absmax: &[f32],
    layout: Q4Layout,
    out: &mut [f32],
) {
    let n = layout.numel().min(out.len());
    let out = &mut out[..n];
    let bs = layout.block_size.max(1);
    let scale = |i: usize| absmax.get(i / bs).copied().unwrap_or(0.0);
    if !bs.is_multiple_of(2) {
        // Blocks that split a byte: element by element (no bitsandbytes block size does this).
        for (i, o) in out.iter_mut().enumerate() {
            *o = code[nibble(bytes, i)] * scale(i);
        }
        return;
    }
    let pairs: [[f32; 2]; 256] = std::array::from_fn(|b| [code[b >> 4], code[b & 15]]);
    let threads = if n < MIN_PARALLEL_ELEMENTS {
        1
    } else {
        threads()
    };
    // Whole blocks per thread, so each thread starts on a word and block boundary.
    let chunk = n.div_ceil(bs).div_ceil(threads).max(1) * bs;
    par_chunks(out, chunk, |start, out| {
        for (b, block) in out.chunks_mut(bs).enumerate() {
            let first = start + b * bs;
            let s = scale(first);
            let src = bytes.get(first / 2..).unwrap_or_default();
            let mut pairs_out = block.chunks_exact_mut(2);
            for (pair, &byte) in (&mut pairs_out).zip(src) {
                let [hi, lo] = pairs[usize::from(byte)];
                pair[0] = hi * s;
                pair[1] = lo * s;
            }
            // An odd tensor's last element sits alone in the high nibble of the last byte;
            // bytes missing from a short input read as zero.
            let full = (block.len() / 2).min(src.len());
            for (j, o) in block[2 * full..].iter_mut().enumerate() {
                *o = code[nibble(bytes, first + 2 * full + j)] * s;
            }
        }
    });
}

/// Dequantizes double-quantized absmax: `out[i] = code2[codes[i]] * absmax2[i / bs] + offset`
/// (multiply, then add: no FMA, as bitsandbytes rounds it).
pub fn dequantize_absmax(
    codes: &[u8],
    absmax2: &[f32],
    code2: &[f32],
    nested: NestedLayout,
) -> Vec<f32> {
    let bs = nested.block_size.max(1);
    (0..nested.n_blocks)
        .map(|i| {
            let q = usize::from(codes.get(i).copied().unwrap_or(0));
            let scaled =
                code2.get(q).copied().unwrap_or(0.0) * absmax2.get(i / bs).copied().unwrap_or(0.0);
            scaled + nested.offset
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fast_path_equals_per_element_formula() {
        let code: [f32; 16] = std::array::from_fn(|i| i as f32 * 0.13 - 1.0);
        // Blocks across threads, a partial last block and an odd element count.
        for (rows, cols, bs) in [
            (300, 301, 64),
            (7, 9, 32),
            (1024, 129, 128),
            (5, 5, 12),
            (3, 7, 5),
        ] {
            let layout = Q4Layout {
                rows,
                cols,
                block_size: bs,
            };
            let n = layout.numel();
            let bytes: Vec<u8> = (0..n.div_ceil(2)).map(|i| (i * 37 % 251) as u8).collect();
            let absmax: Vec<f32> = (0..layout.n_blocks())
                .map(|b| 0.5 + b as f32 * 0.01)
                .collect();
            let mut got = vec![f32::NAN; n];
            dequantize_4bit(&bytes, &code, &absmax, layout, &mut got);
            for (i, g) in got.iter().enumerate() {
                let byte = bytes[i / 2];
                let nib = if i % 2 == 0 { byte >> 4 } else { byte & 15 };
                let want = code[nib as usize] * absmax[i / bs];
                assert_eq!(g.to_bits(), want.to_bits(), "{rows}x{cols}/{bs} at {i}");
            }
        }
    }

    #[test]
    fn short_inputs_read_as_zero_without_panicking() {
        let layout = Q4Layout {
            rows: 4,
            cols: 64,
            block_size: 64,
        };
        let mut out = vec![1.0; 256];
        dequantize_4bit(&[], &[1.0; 16], &[], layout, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
        let nested = NestedLayout {
            n_blocks: 9,
            block_size: 256,
            offset: 0.5,
        };
        assert_eq!(dequantize_absmax(&[], &[], &[], nested), vec![0.5; 9]);
    }
}
