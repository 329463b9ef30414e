//! Decoders: token strings back to text (HF `tokenizers` `decode_chain` semantics).

use super::pretokenize::PrependScheme;
use crate::tokenizer::byte_level::token_bytes;

/// A decoder.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// GPT-2 byte characters → bytes → UTF-8 (invalid sequences become U+FFFD).
    ByteLevel,
    /// `▁` → space; the first word's leading space is dropped unless the scheme is `never`.
    Metaspace {
        /// Usually `▁`.
        replacement: char,
        /// Mirrors the pre-tokenizer's scheme.
        prepend_scheme: PrependScheme,
    },
    /// Replaces a literal in each token.
    Replace {
        /// What to look for.
        pattern: String,
        /// What to put instead.
        content: String,
    },
    /// Runs of `<0xNN>` tokens → UTF-8 (each byte of an invalid run becomes U+FFFD).
    ByteFallback,
    /// Joins all tokens into one.
    Fuse,
    /// Removes up to `start`/`stop` copies of `content` at each token's ends.
    Strip {
        /// The character removed.
        content: char,
        /// How many at the start.
        start: usize,
        /// How many at the end.
        stop: usize,
    },
    /// Applies each in order.
    Sequence(Vec<Decoder>),
}

impl Decoder {
    /// Decodes token strings into text.
    pub(crate) fn decode(&self, tokens: Vec<String>) -> String {
        self.chain(tokens).concat()
    }

    fn chain(&self, tokens: Vec<String>) -> Vec<String> {
        match self {
            Decoder::Sequence(steps) => steps.iter().fold(tokens, |t, d| d.chain(t)),
            Decoder::ByteLevel => {
                let mut bytes = Vec::new();
                for t in &tokens {
                    if !token_bytes(t, &mut bytes) {
                        // Not byte-level text (e.g. an added token): keep it verbatim.
                        bytes.extend_from_slice(t.as_bytes());
                    }
                }
                vec![String::from_utf8_lossy(&bytes).into_owned()]
            }
            Decoder::Metaspace {
                replacement,
                prepend_scheme,
            } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut s: String = t
                        .chars()
                        .map(|c| if c == *replacement { ' ' } else { c })
                        .collect();
                    if i == 0 && *prepend_scheme != PrependScheme::Never && s.starts_with(' ') {
                        s.remove(0);
                    }
                    s
                })
                .collect(),
            Decoder::Replace { pattern, content } => tokens
                .into_iter()
                .map(|t| {
                    if pattern.is_empty() {
                        t
                    } else {
                        t.replace(pattern.as_str(), content)
                    }
                })
                .collect(),
            Decoder::ByteFallback => byte_fallback(tokens),
            Decoder::Fuse => vec![tokens.concat()],
            Decoder::Strip {
                content,
                start,
                stop,
            } => tokens
                .into_iter()
                .map(|t| {
                    let mut s = t.as_str();
                    for _ in 0..*start {
                        match s.strip_prefix(*content) {
                            Some(rest) => s = rest,
                            None => break,
                        }
                    }
                    for _ in 0..*stop {
                        match s.strip_suffix(*content) {
                            Some(rest) => s = rest,
                            None => break,
                        }
                    }
                    s.to_string()
                })
                .collect(),
        }
    }
}

fn byte_of(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

fn byte_fallback(tokens: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut pending: Vec<u8> = Vec::new();
    let flush = |pending: &mut Vec<u8>, out: &mut Vec<String>| {
        if pending.is_empty() {
            return;
        }
        match String::from_utf8(std::mem::take(pending)) {
            Ok(s) => out.push(s),
            Err(e) => out.extend(std::iter::repeat_n(
                "\u{FFFD}".to_string(),
                e.as_bytes().len(),
            )),
        }
    };
    for t in tokens {
        match byte_of(&t) {
            Some(b) => pending.push(b),
            None => {
                flush(&mut pending, &mut out);
                out.push(t);
            }
        }
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn llama2_hf_decoder_chain() {
        let d = Decoder::Sequence(vec![
            Decoder::Replace {
                pattern: "▁".into(),
                content: " ".into(),
            },
            Decoder::ByteFallback,
            Decoder::Fuse,
            Decoder::Strip {
                content: ' ',
                start: 1,
                stop: 0,
            },
        ]);
        assert_eq!(
            d.decode(toks(&["▁Hi", "<0xE4>", "<0xBD>", "<0xA0>", "▁x"])),
            "Hi你 x"
        );
        assert_eq!(d.decode(toks(&["<0xE4>", "a"])), "\u{FFFD}a");
    }

    #[test]
    fn byte_level_decoder() {
        assert_eq!(
            Decoder::ByteLevel.decode(toks(&["Hello", "Ġworld", "Ċ"])),
            "Hello world\n"
        );
    }
}
