//! Errors of quantization, 4-bit checkpoints and kernels (codes `lpipe::E5xx`).

use std::path::PathBuf;

/// A quantization failure.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum QuantError {
    /// The 4-bit type is neither `nf4` nor `fp4`.
    #[error("unknown 4-bit quantization type `{name}`")]
    #[diagnostic(code(lpipe::E500), help("use `nf4` or `fp4`"))]
    UnknownQuantType {
        /// The name given.
        name: String,
    },
    /// The block size is outside what bitsandbytes supports.
    #[error("block size {block_size} is not supported")]
    #[diagnostic(
        code(lpipe::E501),
        help("use a power of two from 32 to 4096 (bitsandbytes' default is 64)")
    )]
    BadBlockSize {
        /// The block size given.
        block_size: usize,
    },
    /// The tensor holds NaN or infinity, which has no 4-bit code.
    #[error("tensor `{name}` holds a non-finite value at element {index}")]
    #[diagnostic(
        code(lpipe::E502),
        help("quantize finite weights only; check the checkpoint for corruption")
    )]
    NonFinite {
        /// The tensor's name.
        name: String,
        /// The flat index of the first non-finite element.
        index: usize,
    },
    /// The packed data, statistics and shape of a 4-bit tensor disagree.
    #[error("4-bit tensor `{name}` is inconsistent: {reason}")]
    #[diagnostic(
        code(lpipe::E503),
        help("the checkpoint was truncated or written by an incompatible tool; re-quantize it")
    )]
    Inconsistent {
        /// The tensor's name.
        name: String,
        /// What disagrees.
        reason: String,
    },
    /// A tensor's dtype cannot be quantized or is not what the 4-bit format requires.
    #[error("tensor `{name}` has dtype {dtype}, expected {expected}")]
    #[diagnostic(
        code(lpipe::E504),
        help("4-bit quantization takes F32, BF16 or F16 weights")
    )]
    BadDtype {
        /// The tensor's name.
        name: String,
        /// Its dtype.
        dtype: String,
        /// What was expected.
        expected: String,
    },
    /// A checkpoint file could not be read or parsed.
    #[error("cannot read checkpoint `{}`: {reason}", path.display())]
    #[diagnostic(
        code(lpipe::E505),
        help("pass a .safetensors file or a Hugging Face model directory")
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output could not be written.
    #[error("cannot write `{}`: {reason}", path.display())]
    #[diagnostic(
        code(lpipe::E506),
        help(
            "check that the output's directory exists and is writable, and that it does not exist yet"
        )
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The `quant_state` entry of a pre-quantized checkpoint is not valid bitsandbytes JSON.
    #[error("bad bitsandbytes quant_state for `{name}`: {reason}")]
    #[diagnostic(
        code(lpipe::E507),
        help("the checkpoint should come from transformers/bitsandbytes 4-bit `save_pretrained`")
    )]
    BadQuantState {
        /// The weight's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The device is not compiled into this build.
    #[error("device `{name}` is not available in this build")]
    #[diagnostic(
        code(lpipe::E508),
        help("use `flex`, or rebuild with `--features wgpu` / `--features cuda`")
    )]
    UnsupportedDevice {
        /// The device named.
        name: String,
    },
}
