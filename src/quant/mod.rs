//! bitsandbytes-compatible 4-bit quantization (NF4/FP4, double quantization).
//!
//! [`quantize`] and [`dequantize_f32`] reproduce bitsandbytes 0.50.2's CPU results bit for bit
//! (see `docs/quantization.md`); [`serialize`] reads and writes the 4-bit checkpoints that
//! transformers saves for bitsandbytes models.

pub mod blockwise;
pub mod codes;
pub mod device;
pub mod double_quant;
pub mod dtype;
pub mod dynamic_map;
pub mod error;
mod parallel;
pub mod serialize;
pub mod tensor;
pub mod torch_mean;

pub use blockwise::{dequantize_bf16, dequantize_f32, dequantize_into, quantize};
pub use codes::{FP4_CODE, NF4_CODE, QuantType};
pub use device::quantize_weight;
pub use dtype::{Element, FloatDtype};
pub use error::QuantError;
pub use lpipe_kernels::Packed4;
pub use tensor::check_block_size;
pub use tensor::{Absmax, NestedAbsmax, QuantizedTensor};
