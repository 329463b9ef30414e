//! A CSV reader with Python `csv.reader`'s default dialect (MMLU's files were written and are read by it).
//!
//! Comma-separated, `"`-quoted fields with `""` for a quote, newlines allowed inside quotes; like the
//! non-strict Python reader, a quote inside an unquoted field is literal and text after a closing quote
//! is appended to the field. Blank lines yield no record.

use std::path::Path;

use super::malformed;
use crate::eval::error::Result;

/// One record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// One-based line of the record's first character.
    pub line: usize,
    /// The fields, unquoted.
    pub fields: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Parses `text` (the contents of `path`, used in diagnostics) into records.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = State::FieldStart;
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let newline = c == '\n' || c == '\r';
        if newline && state != State::Quoted {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            // A blank line (nothing read since the last record) is skipped, as Python does.
            if state != State::FieldStart || !fields.is_empty() {
                fields.push(std::mem::take(&mut field));
                records.push(Record {
                    line: record_line,
                    fields: std::mem::take(&mut fields),
                });
            }
            state = State::FieldStart;
            line += 1;
            record_line = line;
            continue;
        }
        if c == '\n' || (c == '\r' && chars.peek() != Some(&'\n')) {
            line += 1;
        }
        state = match (state, c) {
            (State::FieldStart, '"') => State::Quoted,
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, ',') => {
                fields.push(std::mem::take(&mut field));
                State::FieldStart
            }
            (State::Quoted, '"') => State::QuoteInQuoted,
            (State::QuoteInQuoted, '"') => {
                field.push('"');
                State::Quoted
            }
            (State::Quoted, _) => {
                field.push(c);
                State::Quoted
            }
            (_, _) => {
                field.push(c);
                State::Unquoted
            }
        };
    }
    if state == State::Quoted {
        return Err(malformed(
            path,
            record_line,
            "a quoted field is not closed before the end of the file",
        ));
    }
    if state != State::FieldStart || !fields.is_empty() {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records as `(line, fields joined by '|')`.
    fn rows(text: &str) -> Vec<(usize, String)> {
        let recs = parse(Path::new("t.csv"), text).unwrap();
        recs.into_iter()
            .map(|r| (r.line, r.fields.join("|")))
            .collect()
    }

    #[test]
    fn quoted_fields_with_commas_quotes_and_newlines() {
        let text = "a,\"b, c\",\"say \"\"hi\"\"\"\n\"multi\nline\",x,\r\n\nlast,\"\",y";
        assert_eq!(
            rows(text),
            vec![
                (1, "a|b, c|say \"hi\"".to_string()),
                (2, "multi\nline|x|".to_string()),
                (5, "last||y".to_string()),
            ]
        );
    }

    #[test]
    fn python_non_strict_quirks() {
        // A quote inside an unquoted field is literal; text after a closing quote is appended.
        assert_eq!(rows("ab\"c,\"d\"e\n"), vec![(1, "ab\"c|de".to_string())]);
    }

    #[test]
    fn unterminated_quote_names_the_record_line() {
        let err = parse(Path::new("t.csv"), "ok,1\n\"open,2\nmore").unwrap_err();
        assert!(err.to_string().contains("t.csv:2"), "{err}");
    }
}
