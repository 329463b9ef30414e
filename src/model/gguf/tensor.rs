//! One entry of the GGUF tensor table.

use super::ggml_type::GgmlType;

/// A tensor's name, shape, type and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name as stored (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions in ggml order: `dims[0]` is the contiguous one.
    pub dims: Vec<u64>,
    /// Storage type.
    pub ty: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements, `None` on overflow.
    pub fn n_elements(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Shape in row-major (numpy/torch) order: the ggml dims reversed.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Size of the stored data in bytes, `None` for unknown types, partial blocks or overflow.
    pub fn n_bytes(&self) -> Option<u64> {
        // Quantized blocks run along the contiguous dimension, so rows must hold whole blocks.
        let (block, _) = self.ty.block_layout()?;
        if self.dims.first().is_some_and(|d| !d.is_multiple_of(block)) {
            return None;
        }
        self.ty.bytes_for(self.n_elements()?)
    }
}
