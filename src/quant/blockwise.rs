//! Blockwise absmax 4-bit quantization and dequantization, bit-exact with bitsandbytes.
//!
//! Conventions (bitsandbytes 0.50.2 CPU, see `../shared/golden/nf4_fp4/nf4_fp4.json`):
//! the tensor is flattened row-major and cut into blocks of `block_size`; the last block may be
//! partial and has its own absmax. A full block is scaled by the f32 reciprocal of its absmax,
//! the partial last block by true division (the two round differently, and bitsandbytes does
//! both). The scaled value, clamped to [-1, 1], takes the nearest code ([`CodeSearch`]); element
//! `2j` goes to the high nibble of byte `j`, and an odd count is padded with the code of 0.0.

use half::bf16;

use super::codes::{CodeSearch, QuantType};
use super::double_quant::quantize_absmax;
use super::dtype::Element;
use super::error::QuantError;
use super::parallel::{for_each_chunk, worker_count};
use super::tensor::{Absmax, QuantizedTensor, check_block_size};

/// Smallest divisor bitsandbytes uses for an all-zero block (its absmax is stored as 0).
const MIN_ABSMAX: f32 = 1e-38;

/// Quantizes a row-major tensor to 4 bits (`double_quant` also compresses the absmax values).
///
/// `name` only labels errors. Fails on a bad block size, a shape that does not match the data,
/// or a non-finite element.
pub fn quantize<E: Element>(
    name: &str,
    data: &[E],
    shape: &[usize],
    quant_type: QuantType,
    block_size: usize,
    double_quant: bool,
) -> Result<QuantizedTensor, QuantError> {
    check_block_size(block_size)?;
    let n = data.len();
    if shape.iter().product::<usize>() != n {
        return Err(QuantError::Inconsistent {
            name: name.to_string(),
            reason: format!("shape {shape:?} does not hold {n} elements"),
        });
    }
    let code = quant_type.code();
    let search = CodeSearch::new(&code);
    let n_blocks = n.div_ceil(block_size);
    let mut packed = vec![0u8; n.div_ceil(2)];
    let mut absmax = vec![0f32; n_blocks];
    let blocks_per_chunk = n_blocks.div_ceil(worker_count(n)).max(1);
    let first_bad = for_each_chunk(
        data.chunks(blocks_per_chunk * block_size)
            .zip(packed.chunks_mut(blocks_per_chunk * block_size / 2))
            .zip(absmax.chunks_mut(blocks_per_chunk))
            .enumerate(),
        |(chunk, ((x, out), am))| {
            quantize_chunk(x, block_size, &search, out, am)
                .map(|i| i + chunk * blocks_per_chunk * block_size)
        },
    );
    if let Some(index) = first_bad {
        return Err(QuantError::NonFinite {
            name: name.to_string(),
            index,
        });
    }
    let absmax = if double_quant {
        Absmax::Nested(quantize_absmax(&absmax))
    } else {
        Absmax::Plain(absmax)
    };
    Ok(QuantizedTensor {
        quant_type,
        shape: shape.to_vec(),
        dtype: E::DTYPE,
        block_size,
        code,
        packed,
        absmax,
    })
}

/// Quantizes whole blocks of `x` into `out`/`absmax`; returns the index of a non-finite element.
fn quantize_chunk<E: Element>(
    x: &[E],
    block_size: usize,
    search: &CodeSearch,
    out: &mut [u8],
    absmax: &mut [f32],
) -> Option<usize> {
    for (b, (block, (bytes, am))) in x
        .chunks(block_size)
        .zip(out.chunks_mut(block_size / 2).zip(absmax.iter_mut()))
        .enumerate()
    {
        let mut max = 0f32;
        let mut finite = true;
        for v in block {
            let v = v.to_f32();
            finite &= v.is_finite();
            max = max.max(v.abs());
        }
        if !finite {
            let i = block.iter().position(|v| !v.to_f32().is_finite());
            return i.map(|i| b * block_size + i);
        }
        *am = max;
        if block.len() == block_size {
            let inv = 1.0 / max.max(MIN_ABSMAX);
            encode(block, bytes, search, |v| (v * inv).clamp(-1.0, 1.0));
        } else {
            // The partial block divides, in the input's dtype (torch keeps a 16-bit tensor's
            // dtype when dividing by a 0-dim f32 tensor).
            let d = max.max(MIN_ABSMAX);
            encode(block, bytes, search, |v| {
                E::round_f32(v / d).clamp(-1.0, 1.0)
            });
        }
    }
    None
}

#[inline(always)]
fn encode<E: Element>(
    block: &[E],
    bytes: &mut [u8],
    search: &CodeSearch,
    scale: impl Fn(f32) -> f32,
) {
    let pad = search.nibble(0.0);
    for (pair, byte) in block.chunks(2).zip(bytes.iter_mut()) {
        let hi = search.nibble(scale(pair[0].to_f32()));
        let lo = pair
            .get(1)
            .map_or(pad, |v| search.nibble(scale(v.to_f32())));
        *byte = (hi << 4) | lo;
    }
}

/// Dequantizes into `out` (row-major, `numel` elements): `code[nibble] * absmax[block]` in f32,
/// then rounded to `E`.
pub fn dequantize_into<E: Element>(q: &QuantizedTensor, out: &mut [E]) -> Result<(), QuantError> {
    q.validate("<tensor>")?;
    if out.len() != q.numel() {
        return Err(QuantError::Inconsistent {
            name: "<tensor>".into(),
            reason: format!("output holds {} elements, tensor {}", out.len(), q.numel()),
        });
    }
    let absmax = q.absmax.values();
    let bs = q.block_size;
    let blocks_per_chunk = q.n_blocks().div_ceil(worker_count(out.len())).max(1);
    for_each_chunk(
        out.chunks_mut(blocks_per_chunk * bs)
            .zip(q.packed.chunks(blocks_per_chunk * bs / 2))
            .zip(absmax.chunks(blocks_per_chunk)),
        |((out, bytes), am)| {
            dequantize_chunk(&q.code, bs, bytes, am, out);
            None::<usize>
        },
    );
    Ok(())
}

fn dequantize_chunk<E: Element>(
    code: &[f32; 16],
    bs: usize,
    bytes: &[u8],
    absmax: &[f32],
    out: &mut [E],
) {
    for ((out, bytes), &scale) in out.chunks_mut(bs).zip(bytes.chunks(bs / 2)).zip(absmax) {
        let table: [f32; 16] = std::array::from_fn(|i| code[i] * scale);
        let half = out.len() / 2;
        let mut pairs = out.chunks_exact_mut(2);
        for (pair, &byte) in (&mut pairs).zip(bytes) {
            pair[0] = E::from_f32(table[usize::from(byte >> 4)]);
            pair[1] = E::from_f32(table[usize::from(byte & 15)]);
        }
        if let ([last], Some(&byte)) = (pairs.into_remainder(), bytes.get(half)) {
            *last = E::from_f32(table[usize::from(byte >> 4)]);
        }
    }
}

/// Dequantizes to f32.
pub fn dequantize_f32(q: &QuantizedTensor) -> Result<Vec<f32>, QuantError> {
    let mut out = vec![0f32; q.numel()];
    dequantize_into(q, &mut out)?;
    Ok(out)
}

/// Dequantizes to bf16 (computed in f32, rounded to nearest even), as bitsandbytes does for a
/// bf16 weight.
pub fn dequantize_bf16(q: &QuantizedTensor) -> Result<Vec<bf16>, QuantError> {
    let mut out = vec![bf16::ZERO; q.numel()];
    dequantize_into(q, &mut out)?;
    Ok(out)
}
