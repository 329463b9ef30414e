//! `Q4Backend` on `CubeBackend` (wgpu, cuda): launches the CubeCL kernels.
//!
//! Every buffer a kernel writes is allocated *contiguous*: `empty_device_dtype` asks the runtime
//! for its preferred layout, and CUDA pads the rows of a 2-D tensor to an aligned pitch, while
//! the kernels index their output as one flat run (`ABSOLUTE_POS`). That mismatch was why the
//! kernels were right on wgpu (no padding) and wrong on CUDA.
//!
//! Two ways to multiply by a 4-bit weight, chosen by the number of token rows `m`:
//! - `m ≥ DEQUANT_MATMUL_MIN_ROWS` (training, prefill): dequantize the whole weight in the
//!   input's dtype into a transient buffer with the bandwidth-bound kernel, then run Burn's
//!   tensor-core matmul; the buffer is dropped when the op returns (bitsandbytes' path).
//! - smaller `m` (generation, scoring): the fused kernels, which read the nibbles directly.

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::{FloatTensorOps, IntTensorOps};
use burn::backend::{
    FloatDType, IntDType, TensorMetadata,
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{DType, Shape};
use burn_cubecl::{
    CubeBackend, kernel::into_contiguous, ops::numeric::empty_device_contiguous_dtype,
    tensor::CubeTensor,
};
use cubecl::{calculate_cube_count_elemwise, prelude::*};

use crate::dequant_4bit::dequantize_4bit_kernel;
use crate::dequant_absmax::dequantize_absmax_kernel;
use crate::matmul_4bit::matmul_4bit_kernel;
use crate::matmul_4bit_grad::matmul_4bit_grad_kernel;
use crate::{NestedLayout, Q4Backend, Q4Layout};

/// Token rows from which a 4-bit matmul dequantizes into a buffer and uses the dense matmul.
///
/// At 64 rows the dense matmul already reuses each weight 64 times, so the cost of writing and
/// re-reading the dequantized weight (2 bytes per element in bf16, at copy bandwidth) is small
/// against the fused kernel's per-output recomputation of every nibble.
pub const DEQUANT_MATMUL_MIN_ROWS: usize = 64;

fn as_float(t: CubeTensor, dtype: DType) -> CubeTensor {
    let t = if t.dtype == dtype {
        t
    } else {
        CubeBackend::float_cast(t, dtype.into())
    };
    into_contiguous(t)
}

fn i32_input(t: CubeTensor) -> CubeTensor {
    let t = if t.dtype == DType::I32 {
        t
    } else {
        CubeBackend::int_cast(t, IntDType::I32)
    };
    into_contiguous(t)
}

/// A contiguous output: the kernels write it as one flat run (see the module doc).
fn output_like(t: &CubeTensor, shape: Shape, dtype: DType) -> CubeTensor {
    empty_device_contiguous_dtype(t.client.clone(), t.device.clone(), shape, dtype)
}

fn grid(t: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new(&t.client, n);
    (
        calculate_cube_count_elemwise(&t.client, n, cube_dim),
        cube_dim,
    )
}

/// `[.., last]` → (`m`, leading dims).
fn rows_of(t: &CubeTensor, last: usize) -> (usize, Vec<usize>) {
    let dims: Vec<usize> = t.shape().iter().copied().collect();
    let lead = dims[..dims.len().saturating_sub(1)].to_vec();
    (t.shape().num_elements() / last.max(1), lead)
}

/// The f32 statistics the kernels read (the absmax of a nested weight is already f32).
fn stats(code: CubeTensor, absmax: CubeTensor) -> (CubeTensor, CubeTensor) {
    (as_float(code, DType::F32), as_float(absmax, DType::F32))
}

/// Dequantizes to `dtype` (`[rows, cols]`, contiguous) with the vectorized kernel.
fn dequantize_as(
    packed: CubeTensor,
    code: CubeTensor,
    absmax: CubeTensor,
    layout: Q4Layout,
    dtype: DType,
) -> CubeTensor {
    let packed = i32_input(packed);
    let (code, absmax) = stats(code, absmax);
    let output = output_like(&code, Shape::new([layout.rows, layout.cols]), dtype);
    let n = layout.numel();
    if n == 0 {
        return output;
    }
    // 16-byte stores where every word is full; element by element for a ragged tail.
    let vector_size = if n.is_multiple_of(8) {
        (16 / dtype.size()).clamp(1, 8)
    } else {
        1
    };
    let words = layout.n_words();
    let (count, dim) = grid(&code, words);
    // SAFETY: one thread per word of `packed` (checked in the kernel); the output holds `n`
    // elements, written only below `n`; `code` has 16 entries indexed by a nibble; absmax indices
    // are below `ceil(n / block_size)`, its length.
    unsafe {
        dequantize_4bit_kernel::launch_unchecked(
            &code.client,
            count,
            dim,
            vector_size,
            packed.into_tensor_arg(),
            code.clone().into_tensor_arg(),
            absmax.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            n,
            layout.block_size as u32,
            layout.block_size.is_multiple_of(8),
            dtype_to_storage_type(dtype),
        );
    }
    output
}

/// `a · b` for 2-D `a`, through Burn's matmul (tensor cores for bf16/f16), reshaped to `shape`.
fn dense_matmul(a: CubeTensor, b: CubeTensor, shape: Shape) -> CubeTensor {
    let y = CubeBackend::float_matmul(a, b);
    CubeBackend::float_reshape(y, shape)
}

/// The fused kernels compute in f32; their result is cast back to the input's dtype.
fn fused_output(y: CubeTensor, dtype: DType) -> CubeTensor {
    if dtype == DType::F32 {
        y
    } else {
        CubeBackend::float_cast(y, dtype.into())
    }
}

/// The default body: Burn's decomposed attention on the cube runtime's kernels.
impl crate::AttentionBackend for CubeBackend {}

impl Q4Backend for CubeBackend {
    fn q4_dequantize(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        dequantize_as(packed, code, absmax, layout, DType::F32)
    }

    fn q4_dequantize_to(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
        dtype: FloatDType,
    ) -> FloatTensor<Self> {
        dequantize_as(packed, code, absmax, layout, dtype.into())
    }

    fn q4_dequantize_absmax(
        codes: IntTensor<Self>,
        absmax2: FloatTensor<Self>,
        code2: FloatTensor<Self>,
        nested: NestedLayout,
    ) -> FloatTensor<Self> {
        let codes = i32_input(codes);
        let (absmax2, code2) = (as_float(absmax2, DType::F32), as_float(code2, DType::F32));
        let output = output_like(&code2, Shape::new([nested.n_blocks]), DType::F32);
        if nested.n_blocks == 0 {
            return output;
        }
        let (count, dim) = grid(&code2, nested.n_blocks);
        dequantize_absmax_kernel::launch(
            &code2.client,
            count,
            dim,
            codes.into_tensor_arg(),
            absmax2.into_tensor_arg(),
            code2.clone().into_tensor_arg(),
            output.clone().into_tensor_arg(),
            nested.block_size as u32,
        );
        // A separate add: fused with the product, CUDA would contract it into an FMA
        // (see `dequantize_absmax_kernel`).
        CubeBackend::float_add_scalar(output, nested.offset.into())
    }

    fn q4_matmul(
        x: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let dtype = x.dtype;
        let (m, mut lead) = rows_of(&x, layout.cols);
        lead.push(layout.rows);
        let shape = Shape::from(lead);
        if m >= DEQUANT_MATMUL_MIN_ROWS {
            // y = x · Wᵀ: W dequantized in x's dtype, read transposed through its strides.
            let w = dequantize_as(packed, code, absmax, layout, dtype);
            let x = CubeBackend::float_reshape(into_contiguous(x), Shape::new([m, layout.cols]));
            return dense_matmul(x, CubeBackend::float_transpose(w), shape);
        }
        let (x, packed) = (as_float(x, DType::F32), i32_input(packed));
        let (code, absmax) = stats(code, absmax);
        let output = output_like(&x, shape, DType::F32);
        let n = m * layout.rows;
        if n == 0 {
            return fused_output(output, dtype);
        }
        let (count, dim) = grid(&x, n);
        matmul_4bit_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            packed.into_tensor_arg(),
            code.into_tensor_arg(),
            absmax.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            layout.rows as u32,
            layout.cols as u32,
            layout.block_size as u32,
        );
        fused_output(output, dtype)
    }

    fn q4_matmul_input_grad(
        dy: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let dtype = dy.dtype;
        let (m, mut lead) = rows_of(&dy, layout.rows);
        lead.push(layout.cols);
        let shape = Shape::from(lead);
        if m >= DEQUANT_MATMUL_MIN_ROWS {
            // dx = dy · W, W dequantized again (nothing dense was kept from the forward pass).
            let w = dequantize_as(packed, code, absmax, layout, dtype);
            let dy = CubeBackend::float_reshape(into_contiguous(dy), Shape::new([m, layout.rows]));
            return dense_matmul(dy, w, shape);
        }
        let (dy, packed) = (as_float(dy, DType::F32), i32_input(packed));
        let (code, absmax) = stats(code, absmax);
        let output = output_like(&dy, shape, DType::F32);
        let n = m * layout.cols;
        if n == 0 {
            return fused_output(output, dtype);
        }
        let (count, dim) = grid(&dy, n);
        matmul_4bit_grad_kernel::launch(
            &dy.client,
            count,
            dim,
            dy.clone().into_tensor_arg(),
            packed.into_tensor_arg(),
            code.into_tensor_arg(),
            absmax.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            layout.rows as u32,
            layout.cols as u32,
            layout.block_size as u32,
        );
        fused_output(output, dtype)
    }
}
