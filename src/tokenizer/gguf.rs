//! The tokenizer embedded in a GGUF checkpoint (`tokenizer.ggml.*` metadata): `gpt2` vocabularies
//! become a byte-level [`BpeTokenizer`], `llama` vocabularies a [`SentencePiece`] BPE.

use std::path::Path;

use super::error::TokenizerError;
use super::sentencepiece::model_proto::{ModelProto, ModelType, NormalizerSpec, Piece, PieceType};
use super::{BpeTokenizer, SentencePiece, TokenType, Tokenizer};
use crate::model::error::ModelError;
use crate::model::gguf::GgufFile;

fn gguf_err(file: &GgufFile, what: impl Into<String>) -> TokenizerError {
    TokenizerError::Gguf {
        path: file.path().to_path_buf(),
        what: what.into(),
    }
}

fn meta(file: &GgufFile) -> impl Fn(ModelError) -> TokenizerError + '_ {
    move |e| gguf_err(file, e.to_string())
}

/// Opens `path` and builds its tokenizer.
pub fn from_gguf(path: &Path) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    let file = GgufFile::open(path).map_err(|e| TokenizerError::Gguf {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    from_gguf_file(&file)
}

/// The tokenizer of an opened GGUF file.
pub fn from_gguf_file(file: &GgufFile) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    let model = file.get_str("tokenizer.ggml.model").map_err(meta(file))?;
    match model {
        "gpt2" => Ok(Box::new(BpeTokenizer::from_gguf(file)?)),
        "llama" => Ok(Box::new(SentencePiece::from_gguf(file)?)),
        other => Err(TokenizerError::Unsupported {
            path: file.path().to_path_buf(),
            feature: format!("the GGUF tokenizer model `{other}`"),
        }),
    }
}

fn token_types(file: &GgufFile, n: usize) -> Result<Vec<TokenType>, TokenizerError> {
    match file
        .opt_i32_array("tokenizer.ggml.token_type")
        .map_err(meta(file))?
    {
        None => Ok(vec![TokenType::Normal; n]),
        Some(t) if t.len() == n => Ok(t
            .iter()
            .map(|&v| TokenType::from_gguf(i64::from(v)))
            .collect()),
        Some(t) => Err(gguf_err(
            file,
            format!("{n} tokens but {} token types", t.len()),
        )),
    }
}

fn special_id(file: &GgufFile, key: &str, n: usize) -> Result<Option<u32>, TokenizerError> {
    match file.opt_u32(key).map_err(meta(file))? {
        Some(id) if (id as usize) < n => Ok(Some(id)),
        Some(id) => Err(gguf_err(
            file,
            format!("`{key}` = {id} is beyond the {n}-token vocabulary"),
        )),
        None => Ok(None),
    }
}

impl BpeTokenizer {
    /// The byte-level BPE of a `tokenizer.ggml.model = gpt2` checkpoint (SmolLM2, Llama 3, Qwen 2).
    pub fn from_gguf(file: &GgufFile) -> Result<Self, TokenizerError> {
        Self::from_gguf_with_pre(file, None)
    }

    /// As [`BpeTokenizer::from_gguf`], with the pre-tokenizer name overridden: `Some("gpt2")`
    /// reproduces transformers' GGUF loader, which ignores `smollm` (see `docs/tokenizers.md`).
    pub fn from_gguf_with_pre(file: &GgufFile, pre: Option<&str>) -> Result<Self, TokenizerError> {
        let tokens = file
            .get_str_array("tokenizer.ggml.tokens")
            .map_err(meta(file))?
            .to_vec();
        let n = tokens.len();
        let merges = file
            .get_str_array("tokenizer.ggml.merges")
            .map_err(meta(file))?
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ')
                    .filter(|(_, b)| !b.contains(' '))
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| {
                        gguf_err(
                            file,
                            format!("merge {i} `{m}` is not two tokens separated by one space"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let types = token_types(file, n)?;
        let bos = special_id(file, "tokenizer.ggml.bos_token_id", n)?;
        let eos = special_id(file, "tokenizer.ggml.eos_token_id", n)?;
        let add_bos = file
            .opt_bool("tokenizer.ggml.add_bos_token")
            .map_err(meta(file))?
            .unwrap_or(false);
        let pre = match pre {
            Some(p) => p,
            None => file
                .opt_str("tokenizer.ggml.pre")
                .map_err(meta(file))?
                .unwrap_or("default"),
        };
        BpeTokenizer::from_vocab(tokens, merges, types, bos, eos, pre, add_bos)
            .map_err(|e| e.at(file.path()))
    }
}

impl SentencePiece {
    /// The SentencePiece BPE of a `tokenizer.ggml.model = llama` checkpoint (Llama 2, TinyLlama).
    pub fn from_gguf(file: &GgufFile) -> Result<Self, TokenizerError> {
        let tokens = file
            .get_str_array("tokenizer.ggml.tokens")
            .map_err(meta(file))?;
        let n = tokens.len();
        let scores = match file
            .opt_f32_array("tokenizer.ggml.scores")
            .map_err(meta(file))?
        {
            Some(s) if s.len() == n => s.to_vec(),
            Some(s) => return Err(gguf_err(file, format!("{n} tokens but {} scores", s.len()))),
            None => return Err(gguf_err(file, "`tokenizer.ggml.scores` is missing")),
        };
        let types = token_types(file, n)?;
        let kind = |t: TokenType| match t {
            TokenType::Normal => PieceType::Normal,
            TokenType::Unknown => PieceType::Unknown,
            TokenType::Control => PieceType::Control,
            TokenType::UserDefined => PieceType::UserDefined,
            TokenType::Unused => PieceType::Unused,
            TokenType::Byte => PieceType::Byte,
        };
        let pieces: Vec<Piece> = tokens
            .iter()
            .zip(&scores)
            .zip(&types)
            .map(|((t, &score), &ty)| Piece {
                piece: t.clone(),
                score,
                kind: kind(ty),
            })
            .collect();
        let id = |key: &str, default: i32| -> Result<i32, TokenizerError> {
            Ok(special_id(file, key, n)?.map_or(default, |v| v as i32))
        };
        let add_space_prefix = file
            .opt_bool("tokenizer.ggml.add_space_prefix")
            .map_err(meta(file))?
            .unwrap_or(true);
        let proto = ModelProto {
            byte_fallback: pieces.iter().any(|p| p.kind == PieceType::Byte),
            pieces,
            model_type: ModelType::Bpe,
            treat_whitespace_as_suffix: false,
            unk_id: id("tokenizer.ggml.unknown_token_id", 0)?,
            bos_id: id("tokenizer.ggml.bos_token_id", -1)?,
            eos_id: id("tokenizer.ggml.eos_token_id", -1)?,
            pad_id: id("tokenizer.ggml.padding_token_id", -1)?,
            unk_surface: " \u{2047} ".into(),
            normalizer: NormalizerSpec {
                name: "identity".into(),
                precompiled_charsmap: Vec::new(),
                add_dummy_prefix: add_space_prefix,
                remove_extra_whitespaces: false,
                escape_whitespaces: true,
            },
        };
        let mut sp = SentencePiece::new(proto).map_err(|e| e.at(file.path()))?;
        if let Some(add_bos) = file
            .opt_bool("tokenizer.ggml.add_bos_token")
            .map_err(meta(file))?
        {
            sp.set_add_bos(add_bos);
        }
        Ok(sp)
    }
}
