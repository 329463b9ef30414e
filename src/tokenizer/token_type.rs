//! Vocabulary entry kinds, as GGUF (`tokenizer.ggml.token_type`) and SentencePiece number them.

/// What kind of vocabulary entry a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenType {
    /// Produced by merges from text.
    #[default]
    Normal,
    /// The unknown token.
    Unknown,
    /// Control/special tokens (`<|im_start|>`): matched whole in text, dropped by `decode`.
    Control,
    /// User-defined tokens: matched whole in text, kept by `decode`.
    UserDefined,
    /// Present but never produced.
    Unused,
    /// `<0xNN>` byte-fallback tokens.
    Byte,
}

impl TokenType {
    /// From the GGUF / SentencePiece number (1–6); anything else reads as `Normal`.
    pub fn from_gguf(v: i64) -> Self {
        match v {
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Normal,
        }
    }
}
