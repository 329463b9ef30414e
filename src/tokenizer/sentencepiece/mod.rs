//! SentencePiece `.model` tokenizers (Llama 2, TinyLlama, Mistral): BPE with `▁` whitespace and
//! `<0xNN>` byte fallback, reproducing sentencepiece 0.2 token for token.

mod charsmap;
mod decode;
mod encode;
pub mod model_proto;
mod protobuf;
mod unigram;

use std::path::Path;

use self::model_proto::{ModelProto, ModelType, PieceType};
use super::Tokenizer;
use super::cache::WordCache;
use super::error::TokenizerError;
use super::fx::FxHashMap;

/// The whitespace marker `▁` (U+2581).
pub const SPACE: char = '\u{2581}';

/// A SentencePiece BPE model ready to encode and decode.
#[derive(Debug, Clone)]
pub struct SentencePiece {
    proto: ModelProto,
    /// Normal, user-defined and unused pieces: the ones BPE may produce.
    pieces: FxHashMap<Box<str>, u32>,
    /// Control, unknown and byte pieces.
    reserved: FxHashMap<Box<str>, u32>,
    /// `<0xNN>` piece ids by byte value.
    byte_ids: Vec<Option<u32>>,
    /// User-defined symbols, longest first: matched whole before merging.
    user_defined: Vec<Box<str>>,
    /// Some merge produces an unused piece, which must be split again.
    has_unused: bool,
    /// No piece holds `▁` after another character, so words can be encoded one at a time.
    split_at_spaces: bool,
    /// Precompiled normalization rules (`None`: identity).
    charsmap: Option<charsmap::CharsMap>,
    unk_id: u32,
    /// Unigram: lowest and highest normal-piece scores (the highest starts at `f32::MIN_POSITIVE`,
    /// as sentencepiece's `FLT_MIN`), and the longest piece in characters.
    min_score: f32,
    max_score: f32,
    max_piece_chars: usize,
    cache: WordCache,
}

impl SentencePiece {
    /// Reads a `tokenizer.model` file.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let bytes = std::fs::read(path).map_err(|source| TokenizerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Decodes the bytes of a `.model` file; `path` names it in diagnostics.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, TokenizerError> {
        let proto = ModelProto::parse(bytes, path)?;
        Self::new(proto).map_err(|e| e.at(path))
    }

    /// Builds the tokenizer from a decoded (or hand-made) model.
    pub fn new(proto: ModelProto) -> Result<Self, TokenizerError> {
        if !matches!(proto.model_type, ModelType::Bpe | ModelType::Unigram) {
            return Err(TokenizerError::Unsupported {
                path: "<memory>".into(),
                feature: format!("the SentencePiece {:?} model", proto.model_type),
            });
        }
        let charsmap = match proto.normalizer.precompiled_charsmap.as_slice() {
            [] => None,
            blob => Some(charsmap::CharsMap::parse(blob).ok_or_else(|| {
                TokenizerError::vocab(format!(
                    "the precompiled `{}` normalization rules are malformed",
                    proto.normalizer.name
                ))
            })?),
        };
        let mut pieces = FxHashMap::default();
        let mut reserved = FxHashMap::default();
        let mut byte_ids = vec![None; 256];
        let mut user_defined: Vec<Box<str>> = Vec::new();
        let mut has_unused = false;
        let mut split_at_spaces = true;
        let (mut min_score, mut max_score, mut max_piece_chars) = (f32::MAX, f32::MIN_POSITIVE, 0);
        for (id, p) in proto.pieces.iter().enumerate() {
            let id =
                u32::try_from(id).map_err(|_| TokenizerError::vocab("more than 2^32 pieces"))?;
            if p.piece.is_empty() {
                return Err(TokenizerError::vocab(format!("piece {id} is empty")));
            }
            let normal = matches!(
                p.kind,
                PieceType::Normal | PieceType::UserDefined | PieceType::Unused
            );
            let map = if normal { &mut pieces } else { &mut reserved };
            if map.insert(p.piece.as_str().into(), id).is_some() {
                return Err(TokenizerError::vocab(format!(
                    "piece `{}` appears twice",
                    p.piece
                )));
            }
            match p.kind {
                PieceType::UserDefined => user_defined.push(p.piece.as_str().into()),
                PieceType::Unused => has_unused = true,
                PieceType::Byte => {
                    let byte = byte_piece_value(&p.piece).ok_or_else(|| {
                        TokenizerError::vocab(format!("byte piece `{}` is not <0xNN>", p.piece))
                    })?;
                    byte_ids[usize::from(byte)] = Some(id);
                }
                _ => {}
            }
            if p.kind == PieceType::Normal {
                min_score = min_score.min(p.score);
                max_score = max_score.max(p.score);
            }
            if normal {
                max_piece_chars = max_piece_chars.max(p.piece.chars().count());
                let mut prev = SPACE;
                for c in p.piece.chars() {
                    if c == SPACE && prev != SPACE {
                        split_at_spaces = false;
                    }
                    prev = c;
                }
            }
        }
        user_defined.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let unk_id = u32::try_from(proto.unk_id)
            .ok()
            .filter(|&id| (id as usize) < proto.pieces.len())
            .ok_or_else(|| {
                TokenizerError::vocab(format!("unk_id {} is not a piece", proto.unk_id))
            })?;
        if proto.byte_fallback && byte_ids.iter().any(Option::is_none) {
            return Err(TokenizerError::vocab(
                "byte_fallback is set but some of the 256 <0xNN> pieces are missing",
            ));
        }
        Ok(SentencePiece {
            split_at_spaces: split_at_spaces && !proto.treat_whitespace_as_suffix,
            charsmap,
            proto,
            pieces,
            reserved,
            byte_ids,
            user_defined,
            has_unused,
            unk_id,
            min_score,
            max_score,
            max_piece_chars,
            cache: WordCache::default(),
        })
    }

    /// The decoded model.
    pub fn proto(&self) -> &ModelProto {
        &self.proto
    }

    /// The id of a piece, as SentencePiece's `PieceToId` (reserved pieces first, unknown otherwise).
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        self.reserved
            .get(piece)
            .or_else(|| self.pieces.get(piece))
            .copied()
            .unwrap_or(self.unk_id)
    }

    fn optional_id(id: i32, len: usize) -> Option<u32> {
        u32::try_from(id).ok().filter(|&i| (i as usize) < len)
    }
}

/// `<0x4A>` → 0x4A.
fn byte_piece_value(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

impl Tokenizer for SentencePiece {
    fn encode(&self, text: &str, add_bos: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos && let Some(bos) = self.bos_id() {
            out.push(bos);
        }
        self.encode_into(text, &mut out);
        out
    }

    fn decode(&self, ids: &[u32]) -> String {
        self.decode_ids(ids)
    }

    fn bos_id(&self) -> Option<u32> {
        Self::optional_id(self.proto.bos_id, self.proto.pieces.len())
    }

    fn eos_id(&self) -> Option<u32> {
        Self::optional_id(self.proto.eos_id, self.proto.pieces.len())
    }

    fn vocab_size(&self) -> usize {
        self.proto.pieces.len()
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.reserved
            .get(token)
            .or_else(|| self.pieces.get(token))
            .copied()
    }

    fn id_to_token(&self, id: u32) -> Option<&str> {
        self.proto.pieces.get(id as usize).map(|p| p.piece.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_piece_values() {
        assert_eq!(byte_piece_value("<0x0A>"), Some(10));
        assert_eq!(byte_piece_value("<0xff>"), Some(255));
        assert_eq!(byte_piece_value("<0x1>"), None);
        assert_eq!(byte_piece_value("0x10"), None);
    }
}
