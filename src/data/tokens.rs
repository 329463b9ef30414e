//! Pre-tokenized examples: JSON lines `{"input_ids": [1, 17, …], "labels": [-100, …, 17, …]}`, as
//! HF `datasets` and axolotl's pre-tokenized format hold them. `labels` is optional (every
//! position trains); when given, it is a run of −100 (the prompt) followed by the ids themselves,
//! which is what lpipe's loss computes: labels that differ from the ids are refused, not reshaped.

use std::path::Path;
use std::sync::Arc;

use miette::NamedSource;
use serde_json::Value;

use super::dataset::{IGNORE_INDEX, TokenizedDataset};
use super::error::{DataError, RecordError};

/// Most malformed records listed in one diagnostic.
const SHOWN: usize = 10;

/// Parses the file's records into examples, truncated to `max_seq_len`; ids must be below `vocab`.
pub fn parse(
    path: &Path,
    bytes: Vec<u8>,
    vocab: usize,
    max_seq_len: usize,
    mask_prompt: bool,
) -> Result<TokenizedDataset, DataError> {
    let text = String::from_utf8(bytes).map_err(|e| DataError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let mut out = TokenizedDataset::new(mask_prompt);
    let (mut bad, mut count) = (Vec::new(), 0);
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_end();
        if trimmed.trim().is_empty() {
            continue;
        }
        match example(trimmed, vocab) {
            Ok((ids, prompt_len)) => {
                let kept = &ids[..ids.len().min(max_seq_len)];
                out.push(kept, prompt_len, ids.len());
            }
            Err(message) => {
                count += 1;
                if bad.len() < SHOWN {
                    bad.push(RecordError::Invalid {
                        index,
                        message,
                        span: (start, trimmed.len()).into(),
                    });
                }
            }
        }
    }
    if count > 0 {
        return Err(DataError::BadTokenRecords {
            path: path.to_path_buf(),
            count,
            src: Arc::new(NamedSource::new(path.display().to_string(), text)),
            records: bad,
        });
    }
    Ok(out)
}

/// One record's ids and prompt length, or what is wrong with it.
fn example(line: &str, vocab: usize) -> Result<(Vec<u32>, usize), String> {
    let record: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let ids: Vec<u32> = match record.get("input_ids") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_u64()
                    .filter(|&id| (id as usize) < vocab)
                    .map(|id| id as u32)
                    .ok_or_else(|| format!("`input_ids` holds {v}, not a token id below {vocab}"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("`input_ids` is {other}, not a list of token ids")),
        None => return Err("no `input_ids`".into()),
    };
    if ids.is_empty() {
        return Err("`input_ids` is empty".into());
    }
    let prompt_len = match record.get("labels") {
        None => 0,
        Some(Value::Array(labels)) if labels.len() == ids.len() => {
            let labels: Vec<i64> = labels
                .iter()
                .map(|l| l.as_i64().unwrap_or(i64::MIN))
                .collect();
            let prompt = labels.iter().take_while(|&&l| l == IGNORE_INDEX).count();
            let rest_match = labels[prompt..]
                .iter()
                .zip(&ids[prompt..])
                .all(|(&l, &id)| l == i64::from(id));
            if !rest_match {
                return Err(
                    "`labels` must be -100 for the prompt, then equal to `input_ids`".into(),
                );
            }
            prompt
        }
        Some(Value::Array(labels)) => {
            let (l, n) = (labels.len(), ids.len());
            return Err(format!("`labels` has {l} entries, `input_ids` {n}"));
        }
        Some(other) => return Err(format!("`labels` is {other}, not a list")),
    };
    Ok((ids, prompt_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_with_and_without_labels() {
        let text = "{\"input_ids\": [1, 5, 6, 7], \"labels\": [-100, -100, 6, 7]}\n\n{\"input_ids\": [2, 3]}\n";
        let ds = parse(Path::new("t.jsonl"), text.into(), 10, 3, true).unwrap();
        assert_eq!(ds.len(), 2);
        let first = ds.get(0).unwrap();
        assert_eq!(first.input_ids, [1, 5, 6]);
        assert_eq!(first.labels(), [-100, -100, 6]);
        assert_eq!(ds.get(1).unwrap().labels(), [2, 3]);
    }

    #[test]
    fn every_bad_record_is_listed_with_its_line() {
        let text = "{\"input_ids\": [1, 99]}\n{\"input_ids\": [1, 2], \"labels\": [1, 5]}\nnope\n{\"labels\": []}\n{\"input_ids\": [1]}\n";
        let err = parse(Path::new("t.jsonl"), text.into(), 10, 8, true).unwrap_err();
        let DataError::BadTokenRecords { count, records, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*count, 4);
        let lines: Vec<usize> = records.iter().map(RecordError::index).collect();
        assert_eq!(lines, [0, 1, 2, 3]);
        let text = records[0].to_string();
        assert!(text.contains("not a token id below 10"), "{text}");
        assert!(records[1].to_string().contains("-100 for the prompt"));
    }
}
