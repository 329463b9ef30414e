//! Shapes and block sizes of a packed 4-bit weight, passed to every kernel.

/// A 4-bit `[rows, cols]` weight (`[out, in]` for a linear layer), packed as bitsandbytes does:
/// row-major nibbles, element `2j` in the high nibble of byte `j`, bytes grouped four to an i32
/// word little-endian, one absmax per `block_size` consecutive elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Q4Layout {
    /// Output features (rows of the weight).
    pub rows: usize,
    /// Input features (columns of the weight).
    pub cols: usize,
    /// Elements per absmax block.
    pub block_size: usize,
}

impl Q4Layout {
    /// Elements of the weight.
    pub fn numel(&self) -> usize {
        self.rows * self.cols
    }

    /// Absmax blocks, `ceil(numel / block_size)`.
    pub fn n_blocks(&self) -> usize {
        self.numel().div_ceil(self.block_size.max(1))
    }

    /// i32 words holding the packed nibbles, `ceil(numel / 8)`.
    pub fn n_words(&self) -> usize {
        self.numel().div_ceil(8)
    }
}

/// Double-quantized absmax: 8-bit codes (four per i32 word) into a 256-entry code, scaled per
/// `block_size` codes and shifted by `offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NestedLayout {
    /// Number of 4-bit blocks (one code each).
    pub n_blocks: usize,
    /// Codes per second-level block (256 in bitsandbytes).
    pub block_size: usize,
    /// The mean that was subtracted before quantizing.
    pub offset: f32,
}

/// Packs bytes four to a little-endian i32 word, zero-padding the last word.
pub fn pack_words(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            i32::from_le_bytes(w)
        })
        .collect()
}
