//! [`Packed4`]: a 4-bit weight on a Burn device, and the `Tensor`-level calls into [`Q4Backend`].

use burn::backend::{Dispatch, FloatDType};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::{NestedLayout, Q4Backend, Q4Layout, pack_words};

/// Host-side bitsandbytes statistics of a 4-bit weight.
#[derive(Clone, Copy, Debug)]
pub enum HostScales<'a> {
    /// One f32 absmax per block.
    Plain(&'a [f32]),
    /// Double quantization: 8-bit codes, second-level absmax, 256-entry code, block size, offset.
    Nested {
        /// One 8-bit code per 4-bit block.
        codes: &'a [u8],
        /// Absmax per `block_size` codes.
        absmax: &'a [f32],
        /// The dynamic code (256 entries).
        code: &'a [f32],
        /// Codes per second-level block.
        block_size: usize,
        /// The mean subtracted before quantizing.
        offset: f32,
    },
}

/// Host-side parts of a bitsandbytes 4-bit `[rows, cols]` weight (what `lpipe::quant` produces).
#[derive(Clone, Copy, Debug)]
pub struct HostQ4<'a> {
    /// Shape and block size.
    pub layout: Q4Layout,
    /// `ceil(rows * cols / 2)` bytes, high nibble first.
    pub packed: &'a [u8],
    /// The 16-entry code table.
    pub code: [f32; 16],
    /// Block statistics.
    pub scales: HostScales<'a>,
}

/// Block statistics on the device.
#[derive(Clone, Debug)]
// Both variants are handles to device buffers; boxing the larger one would only add a hop.
#[allow(clippy::large_enum_variant)]
pub enum PackedScales {
    /// f32 absmax per block.
    Plain(Tensor<1>),
    /// Double-quantized absmax, dequantized by a kernel when used.
    Nested {
        /// 8-bit codes, four per i32 word.
        codes: Tensor<1, Int>,
        /// Second-level absmax.
        absmax: Tensor<1>,
        /// The 256-entry code.
        code: Tensor<1>,
        /// Block counts and offset.
        layout: NestedLayout,
    },
}

/// A frozen 4-bit weight on a device: packed nibbles (i32 words), code and statistics.
#[derive(Clone, Debug)]
pub struct Packed4 {
    /// Nibbles, eight per i32 word.
    pub packed: Tensor<1, Int>,
    /// The 16-entry code table.
    pub code: Tensor<1>,
    /// Block statistics.
    pub scales: PackedScales,
    /// Shape and block size.
    pub layout: Q4Layout,
}

fn ints(words: Vec<i32>, device: &Device) -> Tensor<1, Int> {
    let n = words.len();
    Tensor::from_data(TensorData::new(words, [n]), (device, DType::I32))
}

fn floats(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), (device, DType::F32))
}

impl Packed4 {
    /// Uploads host parts to `device`.
    pub fn from_host(host: &HostQ4<'_>, device: &Device) -> Self {
        let scales = match host.scales {
            HostScales::Plain(a) => PackedScales::Plain(floats(a, device)),
            HostScales::Nested {
                codes,
                absmax,
                code,
                block_size,
                offset,
            } => PackedScales::Nested {
                codes: ints(pack_words(codes), device),
                absmax: floats(absmax, device),
                code: floats(code, device),
                layout: NestedLayout {
                    n_blocks: codes.len(),
                    block_size,
                    offset,
                },
            },
        };
        Packed4 {
            packed: ints(pack_words(host.packed), device),
            code: floats(&host.code, device),
            scales,
            layout: host.layout,
        }
    }

    /// The f32 absmax per block (a kernel call when double-quantized).
    pub fn absmax(&self) -> Tensor<1> {
        match &self.scales {
            PackedScales::Plain(a) => a.clone(),
            PackedScales::Nested {
                codes,
                absmax,
                code,
                layout,
            } => Tensor::from_dispatch(<Dispatch as Q4Backend>::q4_dequantize_absmax(
                codes.clone().into_dispatch(),
                absmax.clone().into_dispatch(),
                code.clone().into_dispatch(),
                *layout,
            )),
        }
    }

    /// The f32 weight `[rows, cols]`.
    pub fn dequantize(&self) -> Tensor<2> {
        Tensor::from_dispatch(<Dispatch as Q4Backend>::q4_dequantize(
            self.packed.clone().into_dispatch(),
            self.code.clone().into_dispatch(),
            self.absmax().into_dispatch(),
            self.layout,
        ))
    }

    /// The weight `[rows, cols]` in `dtype` (each value the f32 product rounded once).
    pub fn dequantize_to(&self, dtype: FloatDType) -> Tensor<2> {
        Tensor::from_dispatch(<Dispatch as Q4Backend>::q4_dequantize_to(
            self.packed.clone().into_dispatch(),
            self.code.clone().into_dispatch(),
            self.absmax().into_dispatch(),
            self.layout,
            dtype,
        ))
    }

    /// `x · Wᵀ` for `x: [.., cols]` (a linear layer's forward pass), differentiable in `x`.
    pub fn matmul<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as Q4Backend>::q4_matmul(
            x.into_dispatch(),
            self.packed.clone().into_dispatch(),
            self.code.clone().into_dispatch(),
            self.absmax().into_dispatch(),
            self.layout,
        ))
    }

    /// `dy · W` for `dy: [.., rows]` (what the backward pass of [`Packed4::matmul`] computes).
    pub fn matmul_input_grad<const D: usize>(&self, dy: Tensor<D>) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as Q4Backend>::q4_matmul_input_grad(
            dy.into_dispatch(),
            self.packed.clone().into_dispatch(),
            self.code.clone().into_dispatch(),
            self.absmax().into_dispatch(),
            self.layout,
        ))
    }

    /// Device bytes of the packed weight and its statistics.
    pub fn nbytes(&self) -> usize {
        let scales = match &self.scales {
            PackedScales::Plain(_) => 4 * self.layout.n_blocks(),
            PackedScales::Nested { layout, .. } => {
                4 * layout.n_blocks.div_ceil(4)
                    + 4 * layout.n_blocks.div_ceil(layout.block_size)
                    + 4 * 256
            }
        };
        4 * self.layout.n_words() + 64 + scales
    }
}
