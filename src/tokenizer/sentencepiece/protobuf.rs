//! A minimal protobuf wire-format reader: enough to walk a SentencePiece `ModelProto`.
//!
//! Errors carry the absolute byte offset so the diagnostic can point into the file.

/// One decoded field value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (no SentencePiece field uses it; skipped).
    Fixed64,
    /// Wire type 2: strings, bytes and embedded messages; `offset` is where the payload starts.
    Bytes { data: &'a [u8], offset: usize },
    /// Wire type 5 (floats).
    Fixed32(u32),
}

/// Iterates the fields of one message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

/// A decoding failure: what and where (absolute offset).
#[derive(Debug)]
pub(crate) struct WireError {
    pub what: String,
    pub offset: usize,
}

impl<'a> Reader<'a> {
    /// Reads the message in `buf`, which starts at absolute offset `base` in the file.
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn err(&self, what: &str) -> WireError {
        WireError {
            what: what.to_string(),
            offset: self.base + self.pos,
        }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let out = &self.buf[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(self.err("field runs past the end of its message")),
        }
    }

    /// The next `(field number, value)`, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| self.err("field number out of range"))?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| self.err("length out of range"))?;
                let offset = self.base + self.pos;
                Value::Bytes {
                    data: self.take(len)?,
                    offset,
                }
            }
            5 => {
                let b = self.take(4)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Value::Fixed32(u32::from_le_bytes(a))
            }
            other => return Err(self.err(&format!("unsupported wire type {other}"))),
        };
        Ok(Some((field, value)))
    }
}

impl<'a> Value<'a> {
    /// The value as a bool/int/enum (varint).
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Varint(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a proto `int32` (negative numbers are sign-extended varints).
    pub(crate) fn as_i32(&self) -> Option<i32> {
        self.as_u64().map(|v| v as i64 as i32)
    }

    /// The value as a `float`.
    pub(crate) fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::Fixed32(v) => Some(f32::from_bits(v)),
            _ => None,
        }
    }

    /// The payload of a length-delimited field and its absolute offset.
    pub(crate) fn as_bytes(&self) -> Option<(&'a [u8], usize)> {
        match *self {
            Value::Bytes { data, offset } => Some((data, offset)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type() {
        // field 1 varint 300, field 2 fixed32 1.5f, field 3 bytes "hi", field 4 int32 -1
        let mut buf = vec![0x08, 0xac, 0x02, 0x15];
        buf.extend_from_slice(&1.5f32.to_le_bytes());
        buf.extend_from_slice(&[0x1a, 0x02, b'h', b'i', 0x20]);
        buf.extend_from_slice(&[0xff; 9]);
        buf.push(0x01);
        let mut r = Reader::new(&buf, 0);
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, v.as_u64()), (1, Some(300)));
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, v.as_f32()), (2, Some(1.5)));
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, v.as_bytes().map(|b| b.0)), (3, Some(&b"hi"[..])));
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, v.as_i32()), (4, Some(-1)));
        assert!(r.next_field().unwrap().is_none());
    }

    #[test]
    fn truncation_is_an_error_with_offset() {
        let buf = [0x1a, 0x05, b'a'];
        let err = Reader::new(&buf, 100).next_field().unwrap_err();
        assert_eq!(err.offset, 102);
        let err = Reader::new(&[0x08, 0x80], 0).next_field().unwrap_err();
        assert!(err.what.contains("varint"));
    }
}
