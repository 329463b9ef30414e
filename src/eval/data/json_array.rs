//! Splits a top-level JSON array into its elements' text, so each element parses on its own and a
//! bad record is reported at its own line (serde_json would only know the whole file).

use std::path::Path;

use super::malformed;
use crate::eval::error::Result;

/// One element of the array: its one-based starting line and its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<'a> {
    /// One-based line where the element starts.
    pub line: usize,
    /// The element's JSON text.
    pub text: &'a str,
}

/// Returns the elements of the array that is the whole of `text` (nested values stay intact).
pub fn elements<'a>(path: &Path, text: &'a str) -> Result<Vec<Element<'a>>> {
    let bytes = text.as_bytes();
    let mut line = 1;
    let mut i = 0;
    let skip_ws = |i: &mut usize, line: &mut usize| {
        while let Some(&b) = bytes.get(*i) {
            if b == b'\n' {
                *line += 1;
            }
            if !b.is_ascii_whitespace() {
                break;
            }
            *i += 1;
        }
    };
    skip_ws(&mut i, &mut line);
    if bytes.get(i) != Some(&b'[') {
        return Err(malformed(path, line, "expected a JSON array of records"));
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        skip_ws(&mut i, &mut line);
        match bytes.get(i) {
            Some(b']') if out.is_empty() => return Ok(out),
            None => return Err(malformed(path, line, "the array is not closed")),
            _ => {}
        }
        let (start, start_line) = (i, line);
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        while let Some(&b) = bytes.get(i) {
            if b == b'\n' {
                line += 1;
            }
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' if depth == 0 => break,
                    b']' | b'}' => depth -= 1,
                    b',' if depth == 0 => break,
                    _ => {}
                }
            }
            i += 1;
        }
        let element = text.get(start..i).unwrap_or_default().trim_end();
        if element.is_empty() {
            return Err(malformed(path, start_line, "empty array element"));
        }
        out.push(Element {
            line: start_line,
            text: element,
        });
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Ok(out),
            _ => return Err(malformed(path, line, "the array is not closed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_elements_and_keeps_their_lines() {
        let text = "[\n  {\"a\": \"x, ]}\\\"\"},\n  {\"b\": [1, {\"c\": 2}]}\n]\n";
        let els = elements(Path::new("f.json"), text).unwrap();
        assert_eq!(els.len(), 2);
        assert_eq!((els[0].line, els[0].text), (2, "{\"a\": \"x, ]}\\\"\"}"));
        assert_eq!((els[1].line, els[1].text), (3, "{\"b\": [1, {\"c\": 2}]}"));
        assert!(elements(Path::new("f.json"), "[]").unwrap().is_empty());
    }

    #[test]
    fn unclosed_array_is_an_error() {
        let err = elements(Path::new("f.json"), "[\n{\"a\": 1},\n{\"b\": 2}").unwrap_err();
        assert!(err.to_string().contains("f.json:3"), "{err}");
        assert!(elements(Path::new("f.json"), "{}").is_err());
    }
}
