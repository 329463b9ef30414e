//! `Q4Backend` on `Flex` (the pure-Rust CPU backend): the host implementations of `host.rs`
//! instead of the reference's element-wise tensor ops.
//!
//! `q4_matmul` and its input gradient dequantize into a transient dense weight that is dropped
//! as soon as the gemm returns, so between forward and backward only the packed weight lives
//! (the `Autodiff` impl keeps just the inputs of this call). The gemm is split by rows across
//! threads as `lpipe::nn::parallel::linear` does, which keeps every row's result identical to
//! one gemm over all rows.

use burn::backend::ops::{FloatTensorOps, IntTensorOps};
use burn::backend::{
    Flex, FloatDType, IntDType, TensorMetadata,
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{DType, Shape, TensorData};
use std::sync::{Arc, Mutex};

use crate::host::{self, threads};
use crate::{NestedLayout, Q4Backend, Q4Layout};

/// Rows per thread below which splitting a gemm costs more than it saves.
const MIN_ROWS_PER_THREAD: usize = 32;

type Float = FloatTensor<Flex>;
type Int = IntTensor<Flex>;

/// The f32 values of `t` (cast and made contiguous when needed).
fn floats(t: Float) -> Vec<f32> {
    let t = if t.dtype() == DType::F32 {
        t
    } else {
        Flex::float_cast(t, FloatDType::F32)
    };
    match t.as_slice::<f32>() {
        Some(s) => s.to_vec(),
        None => t
            .to_contiguous()
            .as_slice::<f32>()
            .unwrap_or_default()
            .to_vec(),
    }
}

/// Runs `f` on the bytes packed into the little-endian i32 words of `t`, without copying on a
/// little-endian host when `t` is already contiguous i32.
fn with_bytes<R>(t: Int, f: impl FnOnce(&[u8]) -> R) -> R {
    let t = if t.dtype() == DType::I32 {
        t
    } else {
        Flex::int_cast(t, IntDType::I32)
    };
    let t = if t.as_slice::<i32>().is_some() {
        t
    } else {
        t.to_contiguous()
    };
    let words = t.as_slice::<i32>().unwrap_or_default();
    if cfg!(target_endian = "little") {
        f(bytemuck::cast_slice(words))
    } else {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        f(&bytes)
    }
}

fn code16(code: Float) -> [f32; 16] {
    let v = floats(code);
    std::array::from_fn(|i| v.get(i).copied().unwrap_or(0.0))
}

/// The dense weight buffer kept between calls of `q4_matmul*`.
///
/// First-touch page faults of a fresh multi-megabyte buffer cost far more than dequantizing
/// into it (measured here: 128 ms vs 4 ms for 64 MiB), so the transient weight of the previous
/// call is reused. At most one buffer (the largest weight's size) is kept.
static SCRATCH: Mutex<Vec<f32>> = Mutex::new(Vec::new());

fn dequantize_into(
    packed: Int,
    code: Float,
    absmax: Float,
    layout: Q4Layout,
    mut out: Vec<f32>,
) -> Float {
    let code = code16(code);
    let absmax = floats(absmax);
    out.clear();
    out.resize(layout.numel(), 0.0);
    with_bytes(packed, |w| {
        host::dequantize_4bit(w, &code, &absmax, layout, &mut out)
    });
    Float::from_data(TensorData::new(out, [layout.rows, layout.cols]))
}

fn dequantize(packed: Int, code: Float, absmax: Float, layout: Q4Layout) -> Float {
    dequantize_into(packed, code, absmax, layout, Vec::new())
}

/// A dequantized weight in the scratch buffer when it is free and large enough.
fn dequantize_scratch(packed: Int, code: Float, absmax: Float, layout: Q4Layout) -> Float {
    let buf = match SCRATCH.lock() {
        Ok(mut s) if s.capacity() >= layout.numel() => std::mem::take(&mut *s),
        _ => Vec::new(),
    };
    dequantize_into(packed, code, absmax, layout, buf)
}

/// Hands `w`'s buffer back to the scratch slot once nothing else holds it.
fn recycle(w: Float) {
    let data = w.data_arc();
    drop(w);
    let Ok(bytes) = Arc::try_unwrap(data) else {
        return;
    };
    let Ok(v) = bytes.try_into_vec::<f32>() else {
        return;
    };
    if let Ok(mut s) = SCRATCH.lock()
        && v.capacity() > s.capacity()
    {
        *s = v;
    }
}

/// `x · w` for `x: [.., k]` and a 2-D `w: [k, n]`, giving `[.., n]`; rows split across threads.
fn matmul_rows(x: Float, w: Float, k: usize, n: usize) -> Float {
    let dims: Vec<usize> = x.shape().iter().copied().collect();
    let m = x.shape().num_elements() / k.max(1);
    let x = Flex::float_reshape(x, Shape::new([m, k]));
    let parts = threads().min(m / MIN_ROWS_PER_THREAD);
    let y = if parts < 2 {
        Flex::float_matmul(x, w)
    } else {
        let rows = m.div_ceil(parts);
        let chunks: Vec<Float> = (0..m)
            .step_by(rows)
            .map(|start| x.narrow(0, start, rows.min(m - start)))
            .collect();
        let outs: Vec<Float> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|c| {
                    let w = w.clone();
                    s.spawn(move || Flex::float_matmul(c, w))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        Flex::float_cat(outs, 0)
    };
    let mut out_dims = dims[..dims.len().saturating_sub(1)].to_vec();
    out_dims.push(n);
    Flex::float_reshape(y, Shape::from(out_dims))
}

/// The default body: Burn's decomposed attention on flex primitives.
impl crate::AttentionBackend for Flex {}

impl Q4Backend for Flex {
    fn q4_dequantize(packed: Int, code: Float, absmax: Float, layout: Q4Layout) -> Float {
        dequantize(packed, code, absmax, layout)
    }

    fn q4_dequantize_absmax(
        codes: Int,
        absmax2: Float,
        code2: Float,
        nested: NestedLayout,
    ) -> Float {
        let (absmax2, code2) = (floats(absmax2), floats(code2));
        let out = with_bytes(codes, |w| {
            host::dequantize_absmax(w, &absmax2, &code2, nested)
        });
        Float::from_data(TensorData::new(out, [nested.n_blocks]))
    }

    fn q4_matmul(x: Float, packed: Int, code: Float, absmax: Float, layout: Q4Layout) -> Float {
        let w = dequantize_scratch(packed, code, absmax, layout);
        // `Wᵀ` as a transposed view: the gemm reads it in place, as it reads the dense base.
        let wt = Flex::float_transpose(w);
        let y = matmul_rows(x, wt.clone(), layout.cols, layout.rows);
        recycle(wt);
        y
    }

    fn q4_matmul_input_grad(
        dy: Float,
        packed: Int,
        code: Float,
        absmax: Float,
        layout: Q4Layout,
    ) -> Float {
        let w = dequantize_scratch(packed, code, absmax, layout);
        let dx = matmul_rows(dy, w.clone(), layout.rows, layout.cols);
        recycle(w);
        dx
    }
}
