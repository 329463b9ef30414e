//! The parts of SentencePiece's `ModelProto` that encoding and decoding depend on.
//!
//! Field numbers follow `sentencepiece_model.proto` (sentencepiece 0.2).

use std::path::Path;

use super::protobuf::{Reader, Value, WireError};
use crate::tokenizer::error::TokenizerError;

/// `SentencePiece.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    /// An ordinary piece produced by training.
    Normal,
    /// The unknown piece.
    Unknown,
    /// Control symbols such as `<s>`: never produced from text.
    Control,
    /// User-defined symbols: always matched as a whole in the text.
    UserDefined,
    /// Unused pieces: kept in the vocabulary, re-split when produced.
    Unused,
    /// `<0xNN>` byte-fallback pieces.
    Byte,
}

impl PieceType {
    /// From the proto enum value; unknown values are read as `Normal`, as protobuf does for proto2 enums.
    pub fn from_proto(v: u64) -> Self {
        match v {
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            _ => PieceType::Normal,
        }
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The piece text, with `▁` for spaces.
    pub piece: String,
    /// Merge priority (BPE) or log-probability (unigram).
    pub score: f32,
    /// The kind of piece.
    pub kind: PieceType,
}

/// `TrainerSpec.ModelType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    /// Unigram language model (the proto default).
    Unigram,
    /// Byte-pair encoding.
    Bpe,
    /// Whitespace-delimited words.
    Word,
    /// Characters.
    Char,
}

/// The normalizer settings that affect encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizerSpec {
    /// Rule name (`identity`, `nmt_nfkc`, …).
    pub name: String,
    /// Compiled normalization rules (empty for `identity`).
    pub precompiled_charsmap: Vec<u8>,
    /// Prepend `▁` to the input.
    pub add_dummy_prefix: bool,
    /// Strip leading/trailing spaces and collapse runs of spaces.
    pub remove_extra_whitespaces: bool,
    /// Replace spaces by `▁`.
    pub escape_whitespaces: bool,
}

impl Default for NormalizerSpec {
    fn default() -> Self {
        NormalizerSpec {
            name: String::new(),
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        }
    }
}

/// A decoded `ModelProto`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelProto {
    /// The vocabulary in id order.
    pub pieces: Vec<Piece>,
    /// BPE, unigram, …
    pub model_type: ModelType,
    /// Unknown characters become `<0xNN>` byte pieces.
    pub byte_fallback: bool,
    /// `▁` marks the end of words instead of the start.
    pub treat_whitespace_as_suffix: bool,
    /// Id of the unknown piece.
    pub unk_id: i32,
    /// Id of `<s>` (negative: none).
    pub bos_id: i32,
    /// Id of `</s>` (negative: none).
    pub eos_id: i32,
    /// Id of the padding piece (negative: none).
    pub pad_id: i32,
    /// What an unknown piece decodes to.
    pub unk_surface: String,
    /// Normalization applied before encoding.
    pub normalizer: NormalizerSpec,
}

impl ModelProto {
    /// Decodes the bytes of a `.model` file; `path` only names the file in diagnostics.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, TokenizerError> {
        parse_model(bytes).map_err(|e| TokenizerError::Protobuf {
            path: path.to_path_buf(),
            what: e.what,
            offset: e.offset,
        })
    }
}

fn bad(what: &str, offset: usize) -> WireError {
    WireError {
        what: what.to_string(),
        offset,
    }
}

fn text(v: &Value<'_>, field: &str) -> Result<String, WireError> {
    let (data, offset) = v
        .as_bytes()
        .ok_or_else(|| bad(&format!("`{field}` is not length-delimited"), 0))?;
    String::from_utf8(data.to_vec()).map_err(|_| bad(&format!("`{field}` is not UTF-8"), offset))
}

fn parse_model(bytes: &[u8]) -> Result<ModelProto, WireError> {
    let mut model = ModelProto {
        pieces: Vec::new(),
        model_type: ModelType::Unigram,
        byte_fallback: false,
        treat_whitespace_as_suffix: false,
        unk_id: 0,
        bos_id: 1,
        eos_id: 2,
        pad_id: -1,
        unk_surface: " \u{2047} ".to_string(),
        normalizer: NormalizerSpec::default(),
    };
    let mut reader = Reader::new(bytes, 0);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value.as_bytes()) {
            (1, Some((data, offset))) => model.pieces.push(parse_piece(data, offset)?),
            (2, Some((data, offset))) => parse_trainer(data, offset, &mut model)?,
            (3, Some((data, offset))) => model.normalizer = parse_normalizer(data, offset)?,
            (1..=3, None) => return Err(bad("message field with a scalar wire type", 0)),
            _ => {}
        }
    }
    if model.pieces.is_empty() {
        return Err(bad("the model has no pieces", bytes.len()));
    }
    Ok(model)
}

fn parse_piece(data: &[u8], offset: usize) -> Result<Piece, WireError> {
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    let mut reader = Reader::new(data, offset);
    while let Some((field, value)) = reader.next_field()? {
        match field {
            1 => piece.piece = text(&value, "piece")?,
            2 => {
                piece.score = value
                    .as_f32()
                    .ok_or_else(|| bad("score is not a float", offset))?
            }
            3 => piece.kind = PieceType::from_proto(value.as_u64().unwrap_or(1)),
            _ => {}
        }
    }
    Ok(piece)
}

fn parse_trainer(data: &[u8], offset: usize, model: &mut ModelProto) -> Result<(), WireError> {
    let mut reader = Reader::new(data, offset);
    while let Some((field, value)) = reader.next_field()? {
        let flag = value.as_u64().map(|v| v != 0);
        match field {
            3 => {
                model.model_type = match value.as_u64() {
                    Some(2) => ModelType::Bpe,
                    Some(3) => ModelType::Word,
                    Some(4) => ModelType::Char,
                    _ => ModelType::Unigram,
                }
            }
            24 => model.treat_whitespace_as_suffix = flag.unwrap_or(false),
            35 => model.byte_fallback = flag.unwrap_or(false),
            40 => model.unk_id = value.as_i32().unwrap_or(0),
            41 => model.bos_id = value.as_i32().unwrap_or(1),
            42 => model.eos_id = value.as_i32().unwrap_or(2),
            43 => model.pad_id = value.as_i32().unwrap_or(-1),
            44 => model.unk_surface = text(&value, "unk_surface")?,
            _ => {}
        }
    }
    Ok(())
}

fn parse_normalizer(data: &[u8], offset: usize) -> Result<NormalizerSpec, WireError> {
    let mut spec = NormalizerSpec::default();
    let mut reader = Reader::new(data, offset);
    while let Some((field, value)) = reader.next_field()? {
        let flag = value.as_u64().map(|v| v != 0);
        match field {
            1 => spec.name = text(&value, "name")?,
            2 => {
                spec.precompiled_charsmap =
                    value.as_bytes().map(|b| b.0.to_vec()).unwrap_or_default()
            }
            3 => spec.add_dummy_prefix = flag.unwrap_or(true),
            4 => spec.remove_extra_whitespaces = flag.unwrap_or(true),
            5 => spec.escape_whitespaces = flag.unwrap_or(true),
            _ => {}
        }
    }
    Ok(spec)
}
