//! `Q4Backend` on `CubeBackend` (wgpu, cuda): launches the CubeCL kernels on f32 inputs.

use burn::backend::ops::{FloatTensorOps, IntTensorOps};
use burn::backend::{
    FloatDType, IntDType, TensorMetadata,
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{DType, Shape};
use burn_cubecl::{
    CubeBackend, kernel::into_contiguous, ops::numeric::empty_device_dtype, tensor::CubeTensor,
};
use cubecl::{calculate_cube_count_elemwise, prelude::*};

use crate::dequant_4bit::dequantize_4bit_kernel;
use crate::dequant_absmax::dequantize_absmax_kernel;
use crate::matmul_4bit::matmul_4bit_kernel;
use crate::matmul_4bit_grad::matmul_4bit_grad_kernel;
use crate::{NestedLayout, Q4Backend, Q4Layout};

/// The kernels compute in f32 on contiguous buffers: cast and copy when needed.
fn f32_input(t: CubeTensor) -> CubeTensor {
    let t = if t.dtype == DType::F32 {
        t
    } else {
        CubeBackend::float_cast(t, FloatDType::F32)
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

fn output_like(t: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_dtype(t.client.clone(), t.device.clone(), shape, DType::F32)
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

impl Q4Backend for CubeBackend {
    fn q4_dequantize(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let (packed, code, absmax) = (i32_input(packed), f32_input(code), f32_input(absmax));
        let output = output_like(&code, Shape::new([layout.rows, layout.cols]));
        let n = layout.numel();
        if n == 0 {
            return output;
        }
        let (count, dim) = grid(&code, n);
        dequantize_4bit_kernel::launch(
            &code.client,
            count,
            dim,
            packed.into_tensor_arg(),
            code.clone().into_tensor_arg(),
            absmax.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            layout.block_size as u32,
        );
        output
    }

    fn q4_dequantize_absmax(
        codes: IntTensor<Self>,
        absmax2: FloatTensor<Self>,
        code2: FloatTensor<Self>,
        nested: NestedLayout,
    ) -> FloatTensor<Self> {
        let (codes, absmax2, code2) = (i32_input(codes), f32_input(absmax2), f32_input(code2));
        let output = output_like(&code2, Shape::new([nested.n_blocks]));
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
            nested.offset,
            nested.block_size as u32,
        );
        output
    }

    fn q4_matmul(
        x: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let (m, mut lead) = rows_of(&x, layout.cols);
        let (x, packed, code, absmax) = (
            f32_input(x),
            i32_input(packed),
            f32_input(code),
            f32_input(absmax),
        );
        lead.push(layout.rows);
        let output = output_like(&x, Shape::from(lead));
        let n = m * layout.rows;
        if n == 0 {
            return output;
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
        output
    }

    fn q4_matmul_input_grad(
        dy: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        let (m, mut lead) = rows_of(&dy, layout.rows);
        let (dy, packed, code, absmax) = (
            f32_input(dy),
            i32_input(packed),
            f32_input(code),
            f32_input(absmax),
        );
        lead.push(layout.cols);
        let output = output_like(&dy, Shape::from(lead));
        let n = m * layout.cols;
        if n == 0 {
            return output;
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
        output
    }
}
