//! Bounds-checked little-endian reads over the file bytes.

/// Why a read failed: what was being read, and where.
#[derive(Debug)]
pub(crate) struct ReadError {
    /// Byte offset of the failed read.
    pub offset: u64,
    /// Description for the diagnostic.
    pub what: String,
}

/// A read position in a byte slice; every read checks the remaining length.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Starts at byte 0.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current offset.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// An error at the current offset.
    pub fn error(&self, what: impl Into<String>) -> ReadError {
        ReadError {
            offset: self.pos as u64,
            what: what.into(),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ReadError> {
        if n > self.remaining() {
            return Err(self.error(format!(
                "file ends while reading {what} ({n} bytes needed, {} left)",
                self.remaining()
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ReadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, what: &str) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length or count, checked against what the rest of the file could hold when each
    /// item takes at least `min_item_bytes`, so hostile counts cannot force huge allocations.
    pub fn count(&mut self, min_item_bytes: usize, what: &str) -> Result<usize, ReadError> {
        let at = self.pos as u64;
        let n = self.u64(what)?;
        let fits = usize::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(min_item_bytes.max(1)) <= self.remaining());
        fits.ok_or_else(|| ReadError {
            offset: at,
            what: format!(
                "{what} is {n}, more than the {} bytes left can hold",
                self.remaining()
            ),
        })
    }

    /// A GGUF string: `u64` length then UTF-8 bytes.
    pub fn string(&mut self, what: &str) -> Result<String, ReadError> {
        let len = self.count(1, &format!("length of {what}"))?;
        let at = self.pos;
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec()).map_err(|e| ReadError {
            offset: at as u64 + e.utf8_error().valid_up_to() as u64,
            what: format!("{what} is not valid UTF-8"),
        })
    }
}
