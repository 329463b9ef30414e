//! SentencePiece's precompiled normalization rules (`nmt_nfkc`, `nfkc_cf`, custom TSV rules):
//! a darts-clone double-array trie over UTF-8 byte sequences whose leaves point at replacement
//! strings. Normalization replaces the longest matching prefix, else copies one character.

/// A decoded `precompiled_charsmap`.
#[derive(Debug, Clone)]
pub(crate) struct CharsMap {
    units: Vec<u32>,
    normalized: Vec<u8>,
}

fn has_leaf(unit: u32) -> bool {
    (unit >> 8) & 1 == 1
}

fn value(unit: u32) -> usize {
    (unit & 0x7fff_ffff) as usize
}

fn label(unit: u32) -> u32 {
    unit & (0x8000_0000 | 0xff)
}

fn offset(unit: u32) -> usize {
    ((unit >> 10) << ((unit & (1 << 9)) >> 6)) as usize
}

impl CharsMap {
    /// Splits the blob: a little-endian `u32` trie size, the trie units, then the
    /// NUL-separated replacement strings. `None` when the sizes do not add up.
    pub fn parse(blob: &[u8]) -> Option<Self> {
        let size = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
        let trie = blob.get(4..4usize.checked_add(size)?)?;
        if !size.is_multiple_of(4) || size == 0 {
            return None;
        }
        let units = trie
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some(CharsMap {
            units,
            normalized: blob[4 + size..].to_vec(),
        })
    }

    /// The replacement for the longest rule matching a prefix of `input`, and the bytes it covers.
    pub fn longest(&self, input: &[u8]) -> Option<(&[u8], usize)> {
        let mut node = offset(*self.units.first()?);
        let mut best = None;
        for (i, &b) in input.iter().enumerate() {
            node ^= usize::from(b);
            let Some(&unit) = self.units.get(node) else {
                break;
            };
            if label(unit) != u32::from(b) {
                break;
            }
            node ^= offset(unit);
            if has_leaf(unit) {
                match self.units.get(node) {
                    Some(&leaf) => best = Some((value(leaf), i + 1)),
                    None => break,
                }
            }
        }
        let (at, len) = best?;
        let rest = self.normalized.get(at..)?;
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        Some((&rest[..end], len))
    }
}

/// Length of the UTF-8 character at the start of `input`, or `None` if it is malformed.
pub(crate) fn char_len(input: &[u8]) -> Option<usize> {
    let len = match *input.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    std::str::from_utf8(input.get(..len)?).ok().map(|_| len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_blobs_are_rejected() {
        assert!(CharsMap::parse(&[]).is_none());
        assert!(CharsMap::parse(&[8, 0, 0, 0, 1, 2]).is_none());
        assert!(CharsMap::parse(&[3, 0, 0, 0, 1, 2, 3]).is_none());
    }

    #[test]
    fn utf8_lengths() {
        assert_eq!(char_len("é".as_bytes()), Some(2));
        assert_eq!(char_len("漢".as_bytes()), Some(3));
        assert_eq!(char_len(&[0xe6, 0xbc]), None);
        assert_eq!(char_len(&[0x80]), None);
    }
}
