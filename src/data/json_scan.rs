//! Finds the byte ranges of the elements of a top-level JSON array without building a tree,
//! so a 50k-record file is parsed one record at a time and every record keeps its span.

use std::ops::Range;

/// Why the array structure itself is broken (individual elements are checked later).
#[derive(Debug, PartialEq, Eq)]
pub struct ScanError {
    /// What was expected.
    pub message: String,
    /// Byte offset of the problem.
    pub offset: usize,
}

/// Byte ranges of each element of the JSON array that makes up `text` (leading BOM and
/// whitespace allowed). Elements are not validated: a broken element yields its raw range.
pub fn array_elements(text: &str) -> Result<Vec<Range<usize>>, ScanError> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, text.strip_prefix('\u{feff}').map_or(0, |_| 3));
    if bytes.get(pos) != Some(&b'[') {
        return Err(ScanError {
            message: "expected `[` at the start of the file".into(),
            offset: pos,
        });
    }
    pos = skip_ws(bytes, pos + 1);
    let mut elements = Vec::new();
    if bytes.get(pos) == Some(&b']') {
        return finish(bytes, pos + 1, elements);
    }
    loop {
        let start = pos;
        let stop = scan_value(bytes, pos).map_err(|offset| ScanError {
            message: "unterminated string or array: the file ends inside a record".into(),
            offset,
        })?;
        let end = trim_end(bytes, start, stop);
        elements.push(start..end);
        pos = stop + 1;
        match bytes.get(stop) {
            Some(b',') => pos = skip_ws(bytes, pos),
            _ => return finish(bytes, pos, elements),
        }
    }
}

/// Scans from `pos` to the `,` or `]` that ends the current array element; returns its offset,
/// or `pos` when the input ends first.
fn scan_value(bytes: &[u8], pos: usize) -> Result<usize, usize> {
    scan_to(bytes, pos, b']').ok_or(pos)
}

/// Scans from `pos` to the `,` or `close` at depth 0 that ends the current value.
fn scan_to(bytes: &[u8], mut pos: usize, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    while let Some(&b) = bytes.get(pos) {
        if in_string {
            match b {
                b'\\' => pos += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 0 => depth -= 1,
                b',' if depth == 0 => return Some(pos),
                c if c == close && depth == 0 => return Some(pos),
                _ => {}
            }
        }
        pos += 1;
    }
    None
}

fn finish(
    bytes: &[u8],
    pos: usize,
    elements: Vec<Range<usize>>,
) -> Result<Vec<Range<usize>>, ScanError> {
    let rest = skip_ws(bytes, pos);
    if rest < bytes.len() {
        return Err(ScanError {
            message: "unexpected text after the closing `]`".into(),
            offset: rest,
        });
    }
    Ok(elements)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

fn trim_end(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && bytes.get(end - 1).is_some_and(u8::is_ascii_whitespace) {
        end -= 1;
    }
    end
}

/// The span of the value of key `key` in the JSON object `text`, searched at depth 1 only
/// (so a nested object or a string containing `"key"` does not match).
pub fn key_value_span(text: &str, key: &str) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    pos += 1;
    loop {
        pos = skip_ws(bytes, pos);
        if bytes.get(pos) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, pos)?;
        let raw_key = text.get(pos + 1..key_end)?;
        pos = skip_ws(bytes, key_end + 1);
        if bytes.get(pos) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(bytes, pos + 1);
        let stop = scan_to(bytes, value_start, b'}')?;
        if raw_key == key {
            return Some(value_start..trim_end(bytes, value_start, stop));
        }
        if bytes.get(stop) != Some(&b',') {
            return None;
        }
        pos = stop + 1;
    }
}

/// Offset of the closing quote of the string starting at `pos`.
fn string_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 1,
            b'"' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(text: &str) -> Vec<&str> {
        array_elements(text)
            .unwrap()
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn splits_top_level_elements_only() {
        let text = "\u{feff} [ {\"a\": [1, 2], \"b\": \"x,]\\\"y\"} ,\n{\"c\": {}} ]\n";
        assert_eq!(
            slices(text),
            vec!["{\"a\": [1, 2], \"b\": \"x,]\\\"y\"}", "{\"c\": {}}"]
        );
        assert!(slices("[]").is_empty());
        assert!(slices("  [ ]  ").is_empty());
    }

    #[test]
    fn empty_elements_are_kept_for_the_record_checker() {
        assert_eq!(slices("[1,,2]"), vec!["1", "", "2"]);
        assert_eq!(slices("[1,]"), vec!["1", ""]);
    }

    #[test]
    fn structural_errors_have_offsets() {
        assert_eq!(array_elements("{\"a\": 1}").unwrap_err().offset, 0);
        assert_eq!(
            array_elements("[{\"a\": \"unterminated}]")
                .unwrap_err()
                .offset,
            1
        );
        let err = array_elements("[1] x").unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(err.message.contains("after the closing"));
    }

    #[test]
    fn finds_values_of_depth_one_keys() {
        let text =
            r#"{"instruction": "say \"output\": no", "nested": {"output": 1}, "output": 42 }"#;
        let span = key_value_span(text, "output").unwrap();
        assert_eq!(&text[span], "42");
        let span = key_value_span(text, "instruction").unwrap();
        assert_eq!(&text[span], r#""say \"output\": no""#);
        assert_eq!(key_value_span(text, "input"), None);
    }
}
