//! GPT-2 byte-level encoding: the byte ↔ printable-character table and the GPT-2 split pattern.

use std::sync::OnceLock;

use regex::Regex;

/// The printable character GPT-2 assigns to each byte (`bytes_to_unicode`).
pub(crate) fn byte_to_char() -> &'static [char; 256] {
    static TABLE: OnceLock<[char; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = ['\0'; 256];
        let mut next = 256u32;
        for (b, slot) in table.iter_mut().enumerate() {
            let printable = matches!(b, 0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff);
            let code = if printable {
                b as u32
            } else {
                next += 1;
                next - 1
            };
            *slot = char::from_u32(code).unwrap_or('\0');
        }
        table
    })
}

/// Maps the characters of a byte-level token back to bytes; `None` if one is not byte-level.
pub(crate) fn token_bytes(token: &str, out: &mut Vec<u8>) -> bool {
    static REVERSE: OnceLock<Vec<(char, u8)>> = OnceLock::new();
    let reverse = REVERSE.get_or_init(|| {
        let mut v: Vec<(char, u8)> = byte_to_char()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        v.sort_unstable();
        v
    });
    for c in token.chars() {
        match reverse.binary_search_by_key(&c, |&(ch, _)| ch) {
            Ok(i) => out.push(reverse[i].1),
            Err(_) => return false,
        }
    }
    true
}

/// The GPT-2 pattern without its `\s+(?!\S)` look-ahead, which [`split_gpt2`] applies by hand.
fn gpt2_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // The literal pattern is valid; a failure here would be a bug in this file, caught by tests.
        Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+")
            .unwrap_or_else(|e| panic!("GPT-2 pattern: {e}"))
    })
}

/// Splits `text` as GPT-2's `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
///
/// `\s+(?!\S)` leaves the last whitespace character of a run that precedes text to the next
/// match (so `"  x"` splits as `" "`, `" x"`); the `regex` crate has no look-ahead, so a
/// whitespace match that is followed by more text gives back its last character.
pub(crate) fn split_gpt2<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    let re = gpt2_regex();
    let mut pos = 0;
    while pos < text.len() {
        let Some(m) = re.find_at(text, pos) else {
            emit(&text[pos..]);
            return;
        };
        let (start, mut end) = (m.start(), m.end());
        if start > pos {
            // Every character matches some alternative, so this does not happen; keep the text anyway.
            emit(&text[pos..start]);
        }
        let matched = &text[start..end];
        if end < text.len() && matched.chars().all(char::is_whitespace) {
            let last = matched.chars().next_back().map_or(0, char::len_utf8);
            if matched.len() > last {
                end -= last;
            }
        }
        emit(&text[start..end]);
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte a byte-level character stands for, if it is one.
    fn char_to_byte(c: char) -> Option<u8> {
        let code = c as u32;
        match code {
            0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff => Some(code as u8),
            256..=323 => {
                // The 68 non-printable bytes, in increasing order, got 256, 257, …
                let rank = (code - 256) as usize;
                (0u8..=255)
                    .filter(|b| !matches!(b, 0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff))
                    .nth(rank)
            }
            _ => None,
        }
    }

    fn split(text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        split_gpt2(text, |s| v.push(s));
        v
    }

    #[test]
    fn byte_table_round_trips() {
        let table = byte_to_char();
        assert_eq!(table[b' ' as usize], '\u{120}');
        assert_eq!(table[b'\n' as usize], '\u{10a}');
        assert_eq!(table[b'A' as usize], 'A');
        for (b, &c) in table.iter().enumerate() {
            assert_eq!(char_to_byte(c), Some(b as u8));
        }
        let mut out = Vec::new();
        assert!(token_bytes("\u{120}the", &mut out));
        assert_eq!(out, b" the");
        assert!(!token_bytes("\u{2581}", &mut out));
    }

    #[test]
    fn gpt2_split_matches_the_lookahead_pattern() {
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(
            split("x  =  42\n\n  y"),
            ["x", " ", " =", " ", " 42", "\n\n ", " y"]
        );
        assert_eq!(split("don't  stop"), ["don", "'t", " ", " stop"]);
        assert_eq!(split("a  "), ["a", "  "]);
        assert_eq!(split("a\n b"), ["a", "\n", " b"]);
        assert_eq!(split("?'s  \tx"), ["?'", "s", "  ", "\t", "x"]);
        assert_eq!(split(""), Vec::<&str>::new());
    }
}
