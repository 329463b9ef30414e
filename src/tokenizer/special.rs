//! Added and special tokens (`<|im_start|>`, `<s>`, …) matched as whole tokens in the input text
//! before any normalization or pre-tokenization, as HF `tokenizers`' `AddedVocabulary` does.

use serde::{Deserialize, Serialize};

/// A token matched verbatim in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedToken {
    /// Its id.
    pub id: u32,
    /// The exact text.
    pub content: String,
    /// Special tokens are dropped by `decode`.
    #[serde(default)]
    pub special: bool,
    /// Also swallows the whitespace on its left.
    #[serde(default)]
    pub lstrip: bool,
    /// Also swallows the whitespace on its right.
    #[serde(default)]
    pub rstrip: bool,
    /// Matches only between non-word characters.
    #[serde(default)]
    pub single_word: bool,
}

/// A piece of input text: ordinary text to tokenize, or a matched added token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    /// Text to normalize, pre-tokenize and merge; `at_start` when it begins the input.
    Text { text: &'a str, at_start: bool },
    /// An added token's id.
    Token(u32),
}

/// Finds added tokens, leftmost first and longest at a position.
#[derive(Debug, Clone)]
pub(crate) struct SpecialMatcher {
    /// Tokens sorted longest first.
    tokens: Vec<AddedToken>,
    /// Bytes that start some token: a quick filter on the scan.
    first_bytes: [bool; 256],
}

impl Default for SpecialMatcher {
    fn default() -> Self {
        SpecialMatcher::new(Vec::new())
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl SpecialMatcher {
    /// A matcher over `tokens` (empty contents are ignored).
    pub fn new(mut tokens: Vec<AddedToken>) -> Self {
        tokens.retain(|t| !t.content.is_empty());
        tokens.sort_by(|a, b| b.content.len().cmp(&a.content.len()).then(a.id.cmp(&b.id)));
        let mut first_bytes = [false; 256];
        for t in &tokens {
            if let Some(&b) = t.content.as_bytes().first() {
                first_bytes[usize::from(b)] = true;
            }
        }
        SpecialMatcher {
            tokens,
            first_bytes,
        }
    }

    /// The added tokens.
    pub fn tokens(&self) -> &[AddedToken] {
        &self.tokens
    }

    fn match_at(&self, text: &str, pos: usize) -> Option<&AddedToken> {
        let rest = &text[pos..];
        self.tokens
            .iter()
            .find(|t| rest.starts_with(t.content.as_str()))
            .filter(|t| {
                if !t.single_word {
                    return true;
                }
                let before = text[..pos].chars().next_back();
                let after = text[pos + t.content.len()..].chars().next();
                !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
            })
    }

    /// Splits `text` into ordinary text and added tokens, calling `emit` for each piece in order.
    pub fn split<'a>(&self, text: &'a str, mut emit: impl FnMut(Segment<'a>)) {
        if self.tokens.is_empty() {
            if !text.is_empty() {
                emit(Segment::Text {
                    text,
                    at_start: true,
                });
            }
            return;
        }
        let bytes = text.as_bytes();
        let mut start = 0; // start of pending ordinary text
        let mut pos = 0;
        while pos < bytes.len() {
            if !self.first_bytes[usize::from(bytes[pos])] || !text.is_char_boundary(pos) {
                pos += 1;
                continue;
            }
            let Some(token) = self.match_at(text, pos) else {
                pos += 1;
                continue;
            };
            let mut end = pos + token.content.len();
            let mut text_end = pos;
            if token.lstrip {
                text_end = start + text[start..pos].trim_end().len();
            }
            if token.rstrip {
                end += text[end..].len() - text[end..].trim_start().len();
            }
            if text_end > start {
                emit(Segment::Text {
                    text: &text[start..text_end],
                    at_start: start == 0,
                });
            }
            emit(Segment::Token(token.id));
            start = end;
            pos = end;
        }
        if start < text.len() {
            emit(Segment::Text {
                text: &text[start..],
                at_start: start == 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: u32, content: &str) -> AddedToken {
        AddedToken {
            id,
            content: content.into(),
            special: true,
            lstrip: false,
            rstrip: false,
            single_word: false,
        }
    }

    fn split<'a>(m: &SpecialMatcher, text: &'a str) -> Vec<Segment<'a>> {
        let mut v = Vec::new();
        m.split(text, |s| v.push(s));
        v
    }

    #[test]
    fn longest_token_wins_and_text_between_is_kept() {
        let m = SpecialMatcher::new(vec![token(1, "<|im"), token(2, "<|im_end|>")]);
        assert_eq!(
            split(&m, "a <|im_end|><|im b"),
            [
                Segment::Text {
                    text: "a ",
                    at_start: true
                },
                Segment::Token(2),
                Segment::Token(1),
                Segment::Text {
                    text: " b",
                    at_start: false
                },
            ]
        );
    }

    #[test]
    fn strip_flags_swallow_whitespace() {
        let mut t = token(5, "<mask>");
        t.lstrip = true;
        t.rstrip = true;
        let m = SpecialMatcher::new(vec![t]);
        assert_eq!(
            split(&m, "x  <mask>  y"),
            [
                Segment::Text {
                    text: "x",
                    at_start: true
                },
                Segment::Token(5),
                Segment::Text {
                    text: "y",
                    at_start: false
                },
            ]
        );
    }

    #[test]
    fn single_word_tokens_need_word_boundaries() {
        let mut t = token(7, "ab");
        t.single_word = true;
        let m = SpecialMatcher::new(vec![t]);
        assert_eq!(split(&m, "cab").len(), 1);
        assert_eq!(split(&m, "c ab").len(), 2);
    }
}
