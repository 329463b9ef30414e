//! Tokenizer diagnostics: codes `lpipe::E350`–`lpipe::E399`.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Everything that can go wrong while reading a tokenizer file.
#[derive(Debug, Error, Diagnostic)]
pub enum TokenizerError {
    /// The file could not be opened or read.
    #[error("cannot read tokenizer `{}`: {source}", path.display())]
    #[diagnostic(code(lpipe::E350), help("check that the path exists and is readable"))]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The file is none of the formats lpipe reads.
    #[error("`{}` is not a tokenizer lpipe can read: {why}", path.display())]
    #[diagnostic(
        code(lpipe::E351),
        help(
            "pass a SentencePiece `tokenizer.model`, an HF `tokenizer.json`, a `.gguf` checkpoint \
             or a directory holding one of them"
        )
    )]
    UnknownFormat {
        /// The file or directory.
        path: PathBuf,
        /// What was looked at.
        why: String,
    },

    /// The SentencePiece protobuf is truncated or malformed.
    #[error("corrupt SentencePiece model `{}`: {what} (at byte {offset})", path.display())]
    #[diagnostic(
        code(lpipe::E352),
        help("the file is truncated or not a SentencePiece ModelProto; download it again")
    )]
    Protobuf {
        /// The file.
        path: PathBuf,
        /// What could not be decoded.
        what: String,
        /// Byte offset where decoding failed.
        offset: usize,
    },

    /// A model type or option that this implementation does not reproduce exactly.
    #[error("tokenizer `{}` uses {feature}, which lpipe does not support", path.display())]
    #[diagnostic(
        code(lpipe::E353),
        help(
            "lpipe reproduces SentencePiece BPE, byte-level BPE and Metaspace BPE exactly; \
             convert the tokenizer to one of those or open an issue with the file"
        )
    )]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The unsupported model type, component or option.
        feature: String,
    },

    /// The vocabulary or merge list contradicts itself.
    #[error("inconsistent vocabulary in `{}`: {what}", path.display())]
    #[diagnostic(
        code(lpipe::E354),
        help(
            "the tokenizer file is damaged or was edited by hand; regenerate it from the original"
        )
    )]
    Vocabulary {
        /// The file (or `<memory>` for tokenizers built from plain data).
        path: PathBuf,
        /// What is inconsistent.
        what: String,
    },

    /// `tokenizer.json` is not valid JSON or lacks a required field.
    #[error("cannot parse `{}`: {what}", path.display())]
    #[diagnostic(
        code(lpipe::E355),
        help(
            "`tokenizer.json` must be the file written by HF `tokenizers` (`tokenizer.save(...)`)"
        )
    )]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON error or the missing field.
        what: String,
    },

    /// A GGUF checkpoint without (usable) tokenizer metadata.
    #[error("GGUF `{}` has no usable tokenizer: {what}", path.display())]
    #[diagnostic(
        code(lpipe::E356),
        help(
            "the checkpoint needs `tokenizer.ggml.model`, `tokenizer.ggml.tokens` and (for BPE) \
             `tokenizer.ggml.merges`; pass a separate `tokenizer.json` or `tokenizer.model` instead"
        )
    )]
    Gguf {
        /// The file.
        path: PathBuf,
        /// What is missing or malformed.
        what: String,
    },

    /// A pre-tokenizer split pattern that cannot be compiled.
    #[error("pre-tokenizer pattern in `{}` does not compile: {what}", path.display())]
    #[diagnostic(
        code(lpipe::E357),
        help("lpipe compiles split patterns with the `fancy-regex` crate (Oniguruma-like syntax)")
    )]
    Pattern {
        /// The file.
        path: PathBuf,
        /// The pattern and the compiler's message.
        what: String,
    },
}

impl TokenizerError {
    /// A vocabulary error for a tokenizer built in memory (no file).
    pub(crate) fn vocab(what: impl Into<String>) -> Self {
        TokenizerError::Vocabulary {
            path: PathBuf::from("<memory>"),
            what: what.into(),
        }
    }

    /// Replaces the `<memory>` placeholder path by the file the data came from.
    pub(crate) fn at(self, file: &std::path::Path) -> Self {
        let file = file.to_path_buf();
        match self {
            TokenizerError::Vocabulary { what, .. } => {
                TokenizerError::Vocabulary { path: file, what }
            }
            TokenizerError::Unsupported { feature, .. } => TokenizerError::Unsupported {
                path: file,
                feature,
            },
            TokenizerError::Pattern { what, .. } => TokenizerError::Pattern { path: file, what },
            other => other,
        }
    }
}
