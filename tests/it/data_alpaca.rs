//! Alpaca JSON / JSONL sources: parsing, field mapping and diagnostics for malformed records.

use std::path::Path;

use lpipe::data::alpaca::{MAX_REPORTED_RECORDS, load_file, parse_text};
use lpipe::data::{DataError, FieldMap, Format, Record, RecordError};

use crate::support::data::{render, temp_dir};

fn parse(text: &str, format: Format) -> Result<Vec<Record>, DataError> {
    parse_text(
        Path::new("data.json"),
        text.to_string(),
        format,
        &FieldMap::default(),
    )
}

#[test]
fn json_array_with_optional_input() {
    let text = r#"[
  {"instruction": "Add.", "input": "1 2", "output": "3"},
  {"instruction": "Greet.", "output": "Hi"},
  {"instruction": "Null input.", "input": null, "output": "ok", "extra": [1, {"x": "]"}]}
]"#;
    let records = parse(text, Format::Auto).unwrap();
    assert_eq!(
        records,
        vec![
            Record::new("Add.", "1 2", "3"),
            Record::new("Greet.", "", "Hi"),
            Record::new("Null input.", "", "ok"),
        ]
    );
}

#[test]
fn jsonl_with_mapped_fields_and_blank_lines() {
    let text = "{\"context\": \"Q: 1+1\", \"completion\": \" 2\"}\n\n  {\"context\": \"Q: 2+2\", \"completion\": \" 4\"}\r\n";
    let fields = FieldMap {
        instruction: "context".into(),
        input: None,
        output: "completion".into(),
    };
    let records = parse_text(Path::new("x.jsonl"), text.into(), Format::Auto, &fields).unwrap();
    assert_eq!(
        records,
        vec![
            Record::new("Q: 1+1", "", " 2"),
            Record::new("Q: 2+2", "", " 4")
        ]
    );
    // An object on the first line also means JSON Lines, whatever the extension.
    assert_eq!(
        parse(text, Format::Auto).unwrap_err().to_string(),
        "2 malformed records in `data.json`"
    );
}

#[test]
fn every_bad_record_is_reported_with_index_field_and_span() {
    let text = r#"[
  {"instruction": "ok", "output": "fine"},
  {"instruction": "no output"},
  {"instruction": 7, "output": "x"},
  "just a string",
  {"instruction": "a", "output": "b",},
  {"instruction": "ok", "input": ["list"], "output": "y"}
]"#;
    let err = parse(text, Format::Json).unwrap_err();
    let DataError::BadRecords { count, records, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*count, 5);
    let summary: Vec<(usize, String)> =
        records.iter().map(|r| (r.index(), r.to_string())).collect();
    assert_eq!(
        summary,
        vec![
            (1, "record 1: missing field `output`".to_string()),
            (
                2,
                "record 2: field `instruction` is a number, expected a string".to_string()
            ),
            (
                3,
                "record 3: record is a string, expected an object".to_string()
            ),
            (4, "record 4: invalid JSON: trailing comma".to_string()),
            (
                5,
                "record 5: field `input` is an array, expected a string".to_string()
            ),
        ]
    );
    // The wrong-typed value itself is labelled, so the rendered report points at the line.
    let RecordError::WrongType { span, .. } = &records[1] else {
        panic!()
    };
    assert_eq!(&text[span.offset()..span.offset() + span.len()], "7");
    let rendered = render(&err);
    assert!(rendered.contains("lpipe::E402"), "{rendered}");
    assert!(rendered.contains("data.json:4:"), "{rendered}");
    assert!(
        rendered.contains("`instruction` must be a string"),
        "{rendered}"
    );
}

#[test]
fn labels_never_split_a_character() {
    // serde_json reports this error inside the multi-byte "é"; the label must cover the whole character.
    let text = "[{\"instruction\": \"x\", \"output\": 1é}]";
    let err = parse(text, Format::Json).unwrap_err();
    let DataError::BadRecords { records, .. } = &err else {
        panic!("{err:?}")
    };
    let RecordError::Invalid { span, .. } = &records[0] else {
        panic!("{records:?}")
    };
    assert!(
        text.is_char_boundary(span.offset()) && text.is_char_boundary(span.offset() + span.len())
    );
    assert!(render(&err).contains("record 0: invalid JSON"));
}

#[test]
fn reports_are_capped_but_count_everything() {
    let body: Vec<String> = (0..50)
        .map(|i| format!("{{\"instruction\": \"q{i}\"}}"))
        .collect();
    let text = format!("[{}]", body.join(",\n"));
    let err = parse(&text, Format::Json).unwrap_err();
    let DataError::BadRecords { count, records, .. } = &err else {
        panic!()
    };
    assert_eq!((*count, records.len()), (50, MAX_REPORTED_RECORDS));
    assert!(err.to_string().contains("(first 20 shown)"));
}

#[test]
fn broken_structure_is_a_syntax_error_with_position() {
    for (text, offset) in [
        ("{\"a\": 1", 0usize),
        ("  [ {\"instruction\": \"x", 4),
        ("[] trailing", 3),
    ] {
        match parse(text, Format::Json) {
            Err(DataError::Syntax { span, .. }) => assert_eq!(span.offset(), offset, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn unreadable_and_non_utf8_files_are_diagnosed() {
    let missing = load_file(
        Path::new("/nonexistent/alpaca.json"),
        Format::Auto,
        &FieldMap::default(),
    );
    assert!(matches!(missing, Err(DataError::Read { .. })));
    let dir = temp_dir("utf8");
    let path = dir.join("bad.json");
    std::fs::write(&path, b"[{\"instruction\": \"\xff\"}]").unwrap();
    match load_file(&path, Format::Auto, &FieldMap::default()) {
        Err(DataError::Syntax { span, message, .. }) => {
            assert_eq!(span.offset(), 18);
            assert!(message.contains("UTF-8"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stanford_alpaca_file_loads_completely() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let loaded = load_file(
        &shared.join("data/alpaca/alpaca_data.json"),
        Format::Auto,
        &FieldMap::default(),
    )
    .unwrap();
    assert_eq!(loaded.records.len(), 52002);
    assert_eq!(
        loaded.records[0].instruction,
        "Give three tips for staying healthy."
    );
    assert_eq!(loaded.records[0].input, "");
    let with_input = loaded
        .records
        .iter()
        .filter(|r| !r.input.is_empty())
        .count();
    // Count from `python -c "import json; print(sum(1 for r in json.load(open(p)) if r['input']))"`.
    assert_eq!(with_input, 20679);
    assert_eq!(loaded.sha256.len(), 64);
}
