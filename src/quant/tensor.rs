//! A bitsandbytes 4-bit tensor: packed nibbles plus its block statistics.

use std::borrow::Cow;

use super::codes::QuantType;
use super::dtype::FloatDtype;
use super::error::QuantError;

/// Double-quantized block statistics: each absmax is an 8-bit index into a dynamic code,
/// scaled per block of `block_size` absmax values and shifted by `offset`.
#[derive(Clone, Debug, PartialEq)]
pub struct NestedAbsmax {
    /// One 8-bit code per 4-bit block (`weight.absmax` in the checkpoint, uint8).
    pub codes: Vec<u8>,
    /// The mean of the original absmax values (`nested_offset`).
    pub offset: f32,
    /// Absmax of `absmax - offset` per block of `block_size` codes (`weight.nested_absmax`).
    pub absmax: Vec<f32>,
    /// Codes per second-level block (256 in bitsandbytes).
    pub block_size: usize,
    /// The 8-bit code table (`weight.nested_quant_map`, 256 entries).
    pub code: Vec<f32>,
}

impl NestedAbsmax {
    /// Dequantizes the absmax values: `code[q] * absmax[i / block_size] + offset`, in f32.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.codes.len());
        for (chunk, &scale) in self.codes.chunks(self.block_size).zip(&self.absmax) {
            out.extend(chunk.iter().map(|&q| {
                let c = self.code.get(usize::from(q)).copied().unwrap_or(0.0);
                // Separate multiply and add (no FMA), as bitsandbytes' CPU kernel rounds them.
                let scaled = c * scale;
                scaled + self.offset
            }));
        }
        out
    }
}

/// The per-block scales of a 4-bit tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum Absmax {
    /// One f32 absmax per block.
    Plain(Vec<f32>),
    /// Double-quantized absmax.
    Nested(NestedAbsmax),
}

impl Absmax {
    /// The number of 4-bit blocks these statistics cover.
    pub fn len(&self) -> usize {
        match self {
            Absmax::Plain(v) => v.len(),
            Absmax::Nested(n) => n.codes.len(),
        }
    }

    /// True when there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 absmax per block (dequantized when nested).
    pub fn values(&self) -> Cow<'_, [f32]> {
        match self {
            Absmax::Plain(v) => Cow::Borrowed(v),
            Absmax::Nested(n) => Cow::Owned(n.dequantize()),
        }
    }

    /// Bytes these statistics take in memory and on disk (code tables excluded).
    pub fn nbytes(&self) -> usize {
        match self {
            Absmax::Plain(v) => 4 * v.len(),
            Absmax::Nested(n) => n.codes.len() + 4 * n.absmax.len() + 4,
        }
    }
}

/// A tensor quantized to 4 bits exactly as bitsandbytes `quantize_4bit` does it.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedTensor {
    /// NF4 or FP4.
    pub quant_type: QuantType,
    /// The original shape (row-major; `[out, in]` for a linear weight).
    pub shape: Vec<usize>,
    /// The original dtype; dequantization returns to it.
    pub dtype: FloatDtype,
    /// Elements per absmax block.
    pub block_size: usize,
    /// The 16-entry code table (`quant_map`).
    pub code: [f32; 16],
    /// Two nibbles per byte, element `2j` in the high nibble; `ceil(n / 2)` bytes.
    pub packed: Vec<u8>,
    /// Per-block scales.
    pub absmax: Absmax,
}

impl QuantizedTensor {
    /// The number of elements of the original tensor.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The number of absmax blocks, `ceil(numel / block_size)`.
    pub fn n_blocks(&self) -> usize {
        self.numel().div_ceil(self.block_size.max(1))
    }

    /// Checks that packed bytes, statistics, shape and block size agree (for loaded data).
    pub fn validate(&self, name: &str) -> Result<(), QuantError> {
        let bad = |reason: String| QuantError::Inconsistent {
            name: name.to_string(),
            reason,
        };
        check_block_size(self.block_size)?;
        let n = self.numel();
        if self.packed.len() != n.div_ceil(2) {
            return Err(bad(format!(
                "{} packed bytes for {n} elements (expected {})",
                self.packed.len(),
                n.div_ceil(2)
            )));
        }
        if self.absmax.len() != self.n_blocks() {
            return Err(bad(format!(
                "{} absmax values for {} blocks of {}",
                self.absmax.len(),
                self.n_blocks(),
                self.block_size
            )));
        }
        if let Absmax::Nested(nested) = &self.absmax {
            if nested.block_size == 0 {
                return Err(bad("nested block size 0".into()));
            }
            if nested.absmax.len() != nested.codes.len().div_ceil(nested.block_size) {
                return Err(bad(format!(
                    "{} nested absmax values for {} codes in blocks of {}",
                    nested.absmax.len(),
                    nested.codes.len(),
                    nested.block_size
                )));
            }
            if nested.code.len() != 256 {
                return Err(bad(format!(
                    "nested quant_map has {} entries, expected 256",
                    nested.code.len()
                )));
            }
        }
        Ok(())
    }

    /// Bytes of packed weights plus statistics.
    pub fn nbytes(&self) -> usize {
        self.packed.len() + self.absmax.nbytes()
    }
}

/// Checks a 4-bit block size: a power of two from 32 to 4096, as bitsandbytes accepts.
pub fn check_block_size(block_size: usize) -> Result<(), QuantError> {
    if block_size.is_power_of_two() && (32..=4096).contains(&block_size) {
        Ok(())
    } else {
        Err(QuantError::BadBlockSize { block_size })
    }
}
