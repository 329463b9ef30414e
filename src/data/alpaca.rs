//! Alpaca-format sources: one JSON array of records, or JSON Lines (one record per line).
//!
//! The file is read once (its bytes also feed the cache key) and parsed record by record, so
//! memory stays near the file size and a bad record is reported with its index, field and
//! span instead of stopping at the first error.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{DataError, RecordError};
use super::json_scan::{array_elements, key_value_span};
use super::record::{FieldMap, Record};

/// At most this many malformed records are listed in one diagnostic (the total is still counted).
pub const MAX_REPORTED_RECORDS: usize = 20;

/// How records are laid out in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `.jsonl`/`.ndjson` extension → JSON Lines; otherwise decided by the first character.
    #[default]
    Auto,
    /// One JSON array of objects (Stanford `alpaca_data.json`).
    Json,
    /// One JSON object per line; blank lines are skipped.
    Jsonl,
}

/// Records read from a file, with the digest of its bytes.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    /// The records in file order.
    pub records: Vec<Record>,
    /// Lowercase hex SHA-256 of the file bytes.
    pub sha256: String,
}

/// Reads `path`; every malformed record is reported at once in [`DataError::BadRecords`].
pub fn load_file(path: &Path, format: Format, fields: &FieldMap) -> Result<LoadedFile, DataError> {
    let bytes = read_bytes(path)?;
    let sha256 = hex_sha256(&bytes);
    let records = parse_bytes(path, bytes, format, fields)?;
    Ok(LoadedFile { records, sha256 })
}

/// The raw bytes of `path` (hashed for the cache key before any parsing).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses the bytes of `path` into records.
pub fn parse_bytes(
    path: &Path,
    bytes: Vec<u8>,
    format: Format,
    fields: &FieldMap,
) -> Result<Vec<Record>, DataError> {
    let text = String::from_utf8(bytes).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
        syntax_error(path, text, "the file is not valid UTF-8".into(), offset)
    })?;
    parse_text(path, text, format, fields)
}

/// Parses `text` (the content of `path`) into records.
pub fn parse_text(
    path: &Path,
    text: String,
    format: Format,
    fields: &FieldMap,
) -> Result<Vec<Record>, DataError> {
    let ranges = match resolve_format(path, &text, format) {
        Format::Jsonl => line_ranges(&text),
        _ => match array_elements(&text) {
            Ok(ranges) => ranges,
            Err(err) => return Err(syntax_error(path, text, err.message, err.offset)),
        },
    };
    let mut records = Vec::with_capacity(ranges.len());
    let mut errors = Vec::new();
    let mut count = 0usize;
    for (index, range) in ranges.into_iter().enumerate() {
        match parse_record(&text, index, range, fields) {
            Ok(record) => records.push(record),
            Err(problems) => {
                count += 1;
                let room = MAX_REPORTED_RECORDS.saturating_sub(errors.len());
                errors.extend(problems.into_iter().take(room));
            }
        }
    }
    if count > 0 {
        return Err(DataError::BadRecords {
            path: path.to_path_buf(),
            count,
            src: Arc::new(NamedSource::new(path.display().to_string(), text)),
            records: errors,
        });
    }
    Ok(records)
}

fn resolve_format(path: &Path, text: &str, format: Format) -> Format {
    match format {
        Format::Auto => {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let lines_ext = ext.eq_ignore_ascii_case("jsonl") || ext.eq_ignore_ascii_case("ndjson");
            let starts_with_object = text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('{');
            if lines_ext || starts_with_object {
                Format::Jsonl
            } else {
                Format::Json
            }
        }
        other => other,
    }
}

/// Non-blank lines of a JSON Lines text (a record index counts records, not lines).
fn line_ranges(text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let lead = content.len() - content.trim_start().len();
        let trimmed = content.trim();
        if !trimmed.is_empty() && trimmed != "\u{feff}" {
            let begin = start + lead;
            ranges.push(begin..begin + trimmed.len());
        }
        start += line.len();
    }
    ranges
}

/// One record, or every problem it has (a record can miss several fields).
fn parse_record(
    text: &str,
    index: usize,
    range: Range<usize>,
    fields: &FieldMap,
) -> Result<Record, Vec<RecordError>> {
    let slice = text.get(range.clone()).unwrap_or("");
    // The first line only: a multi-line record label would bury the message.
    let first_line = slice.find('\n').unwrap_or(slice.len());
    let record_span = span(range.start, first_line.max(1));
    let value: Value = match serde_json::from_str(slice) {
        Ok(value) => value,
        Err(err) => {
            let offset = range.start + line_col_offset(slice, err.line(), err.column());
            return Err(vec![RecordError::Invalid {
                index,
                message: format!("invalid JSON: {}", strip_position(&err.to_string())),
                span: char_span(text, offset),
            }]);
        }
    };
    let Value::Object(map) = value else {
        return Err(vec![RecordError::Invalid {
            index,
            message: format!("record is {}, expected an object", type_name(&value)),
            span: record_span,
        }]);
    };
    let mut problems = Vec::new();
    let mut field = |name: &str, required: bool| -> String {
        let field_span = || {
            key_value_span(slice, name)
                .map(|r| span(range.start + r.start, r.len().max(1)))
                .unwrap_or(record_span)
        };
        match map.get(name) {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) if !required => String::new(),
            None => {
                problems.push(RecordError::MissingField {
                    index,
                    field: name.to_string(),
                    span: record_span,
                });
                String::new()
            }
            Some(other) => {
                problems.push(RecordError::WrongType {
                    index,
                    field: name.to_string(),
                    found: type_name(other),
                    span: field_span(),
                });
                String::new()
            }
        }
    };
    let instruction = field(&fields.instruction, true);
    let input = match &fields.input {
        Some(name) => field(name, false),
        None => String::new(),
    };
    let output = field(&fields.output, true);
    if problems.is_empty() {
        Ok(Record {
            instruction,
            input,
            output,
        })
    } else {
        Err(problems)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Byte offset of serde_json's 1-based line / column inside `slice`.
fn line_col_offset(slice: &str, line: usize, column: usize) -> usize {
    let line_start: usize = slice
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(slice.len())
}

/// serde_json appends "at line L column C", which is relative to the record, not the file.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn span(offset: usize, len: usize) -> SourceSpan {
    SourceSpan::new(offset.into(), len)
}

/// A label on the whole character at (or just before) byte `offset`, so it never splits UTF-8.
fn char_span(text: &str, offset: usize) -> SourceSpan {
    let mut start = offset.min(text.len());
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    let len = text
        .get(start..)
        .and_then(|rest| rest.chars().next())
        .map_or(0, char::len_utf8);
    span(start, len)
}

fn syntax_error(path: &Path, text: String, message: String, offset: usize) -> DataError {
    DataError::Syntax {
        path: PathBuf::from(path),
        message,
        span: char_span(&text, offset),
        src: Arc::new(NamedSource::new(path.display().to_string(), text)),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
