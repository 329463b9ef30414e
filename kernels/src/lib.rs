//! lpipe's Burn backend extensions: 4-bit NF4/FP4 kernels, and attention for training.
//!
//! [`Q4Backend`] is a Burn backend extension with four operations, each with a plain-tensor
//! reference in [`reference`] that is also its default body (used by `flex` and any backend
//! without a kernel):
//! - [`Q4Backend::q4_dequantize`]: packed nibbles × per-block absmax → f32 weight;
//! - [`Q4Backend::q4_dequantize_absmax`]: double-quantized 8-bit absmax → f32 absmax;
//! - [`Q4Backend::q4_matmul`]: `x · Wᵀ` without materializing `W`;
//! - [`Q4Backend::q4_matmul_input_grad`]: `dy · W`, the backward of `q4_matmul` for `x`.
//!
//! With the `wgpu` or `cuda` feature, `CubeBackend` runs CubeCL kernels (one per file:
//! [`dequant_4bit`], [`dequant_absmax`], [`matmul_4bit`], [`matmul_4bit_grad`]; launched in
//! `forward.rs`). The `Autodiff` implementation (`backward.rs`) gives `q4_matmul` a custom
//! backward: the base weight is frozen, so only the input gets a gradient.
//! `Flex` runs the host implementations of [`host`] (bit-identical to the references, and
//! they never keep a dense weight alive). [`Packed4`] is the `Tensor`-level handle the model
//! uses.
//!
//! A second extension, [`AttentionBackend`], gives training's causal attention a backward that
//! recomputes the probabilities instead of keeping them ([`attention`]).

#![recursion_limit = "256"]

use burn::backend::{FloatDType, backend_extension, tensor::FloatTensor, tensor::IntTensor};

pub mod attention;
mod backward;
#[cfg(feature = "cube")]
pub mod dequant_4bit;
#[cfg(feature = "cube")]
pub mod dequant_absmax;
mod flex;
#[cfg(feature = "cube")]
mod forward;
pub mod host;
pub mod layout;
#[cfg(feature = "cube")]
pub mod matmul_4bit;
#[cfg(feature = "cube")]
pub mod matmul_4bit_grad;
pub mod packed;
pub mod reference;

#[cfg(feature = "cube")]
pub use forward::DEQUANT_MATMUL_MIN_ROWS;
pub use layout::{NestedLayout, Q4Layout, pack_words};
pub use packed::{HostQ4, HostScales, Packed4, PackedScales};

/// 4-bit operations as a Burn backend extension.
#[backend_extension(Flex, Cube: cfg(feature = "cube"), Autodiff)]
pub trait Q4Backend: burn::backend::Backend {
    /// Dequantizes packed nibbles (i32 words) with code `[16]` and absmax `[n_blocks]` to f32
    /// `[rows, cols]`.
    fn q4_dequantize(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        reference::dequantize_4bit::<Self>(packed, code, absmax, layout)
    }

    /// [`Q4Backend::q4_dequantize`] in `dtype` (the model's precision): each value is the f32
    /// product rounded once to `dtype`. GPU backends write it directly with a bandwidth-bound
    /// kernel; the default casts the f32 result.
    fn q4_dequantize_to(
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
        dtype: FloatDType,
    ) -> FloatTensor<Self> {
        Self::float_cast(Self::q4_dequantize(packed, code, absmax, layout), dtype)
    }

    /// Dequantizes double-quantized absmax: 8-bit codes (four per i32 word), second-level
    /// absmax and the 256-entry code, to f32 `[n_blocks]`.
    fn q4_dequantize_absmax(
        codes: IntTensor<Self>,
        absmax2: FloatTensor<Self>,
        code2: FloatTensor<Self>,
        nested: NestedLayout,
    ) -> FloatTensor<Self> {
        reference::dequantize_absmax::<Self>(codes, absmax2, code2, nested)
    }

    /// `x · Wᵀ` for `x: [.., cols]`, giving `[.., rows]`.
    fn q4_matmul(
        x: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        reference::matmul_4bit::<Self>(x, packed, code, absmax, layout)
    }

    /// `dy · W` for `dy: [.., rows]`, giving `[.., cols]` (the input gradient of `q4_matmul`).
    fn q4_matmul_input_grad(
        dy: FloatTensor<Self>,
        packed: IntTensor<Self>,
        code: FloatTensor<Self>,
        absmax: FloatTensor<Self>,
        layout: Q4Layout,
    ) -> FloatTensor<Self> {
        reference::matmul_4bit_input_grad::<Self>(dy, packed, code, absmax, layout)
    }
}

/// Causal attention as a Burn backend extension: under autodiff its backward recomputes the
/// attention probabilities instead of keeping them (see [`attention`]).
#[backend_extension(Flex, Cube: cfg(feature = "cube"), Autodiff)]
pub trait AttentionBackend: burn::backend::Backend {
    /// `softmax(causal(q·kᵀ/√d))·v` for `[b, h, s, d]` tensors with as many K/V heads as query
    /// heads: Burn's decomposed attention, whose values the autodiff version keeps exactly.
    fn causal_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        attention::causal_attention_reference::<Self>(q, k, v)
    }
}
