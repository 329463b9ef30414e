//! The array scanner agrees with serde_json on arbitrary arrays of records with hostile strings.

use lpipe::data::json_scan::{array_elements, key_value_span};
use proptest::prelude::*;
use serde_json::{Value, json};

fn tricky_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('"'),
            Just('\\'),
            Just(','),
            Just('['),
            Just(']'),
            Just('{'),
            Just('}'),
            Just(':'),
            Just('\n'),
            Just('é'),
            Just('🙂'),
            proptest::char::range('a', 'z'),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn record() -> impl Strategy<Value = Value> {
    (tricky_string(), tricky_string(), tricky_string(), proptest::option::of(tricky_string())).prop_map(
        |(instruction, output, nested, input)| {
            let mut v = json!({"instruction": instruction, "nested": {"output": nested, "list": [nested, 1]}, "output": output});
            if let Some(input) = input {
                v["input"] = json!(input);
            }
            v
        },
    )
}

proptest! {
    #[test]
    fn elements_and_field_spans_match_serde(records in proptest::collection::vec(record(), 0..8), pretty: bool) {
        let value = Value::Array(records.clone());
        let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
        let ranges = array_elements(&text).unwrap();
        prop_assert_eq!(ranges.len(), records.len());
        for (range, want) in ranges.iter().zip(&records) {
            let slice = &text[range.clone()];
            let got: Value = serde_json::from_str(slice).unwrap();
            prop_assert_eq!(&got, want);
            let span = key_value_span(slice, "output").unwrap();
            let output: Value = serde_json::from_str(&slice[span]).unwrap();
            prop_assert_eq!(&output, &want["output"]);
        }
    }
}
