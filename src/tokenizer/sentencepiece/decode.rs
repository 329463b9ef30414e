//! SentencePiece decoding: `▁` → space, the dummy prefix removed, byte pieces joined into UTF-8
//! (invalid sequences become U+FFFD one byte at a time), control pieces dropped.

use super::model_proto::PieceType;
use super::{SPACE, SentencePiece};

impl SentencePiece {
    /// Text for `ids`; ids outside the vocabulary are skipped.
    pub(crate) fn decode_ids(&self, ids: &[u32]) -> String {
        let spec = &self.proto.normalizer;
        let strip_dummy = spec.add_dummy_prefix || spec.remove_extra_whitespaces;
        let mut out = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut at_start = true;
        for &id in ids {
            let Some(piece) = self.proto.pieces.get(id as usize) else {
                continue;
            };
            match piece.kind {
                PieceType::Byte => {
                    if let Some(b) = super::byte_piece_value(&piece.piece) {
                        bytes.push(b);
                    }
                    at_start = false;
                    continue;
                }
                PieceType::Control => {
                    flush_bytes(&mut bytes, &mut out);
                    continue;
                }
                _ => {}
            }
            flush_bytes(&mut bytes, &mut out);
            if piece.kind == PieceType::Unknown {
                out.push_str(&self.proto.unk_surface);
                at_start = false;
                continue;
            }
            let mut text = piece.piece.as_str();
            if at_start && strip_dummy && !self.proto.treat_whitespace_as_suffix {
                text = text.strip_prefix(SPACE).unwrap_or(text);
            }
            at_start = false;
            out.extend(text.chars().map(|c| if c == SPACE { ' ' } else { c }));
        }
        flush_bytes(&mut bytes, &mut out);
        if strip_dummy && self.proto.treat_whitespace_as_suffix && out.ends_with(' ') {
            out.pop();
        }
        out
    }
}

/// Appends pending byte pieces as UTF-8, replacing each invalid byte by U+FFFD.
fn flush_bytes(bytes: &mut Vec<u8>, out: &mut String) {
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // `good` was just validated as UTF-8.
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFD}');
                // SentencePiece replaces invalid bytes one at a time.
                rest = bad.get(1..).unwrap_or_default();
            }
        }
    }
    bytes.clear();
}
