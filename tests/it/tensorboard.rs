//! TensorBoard event files: records byte-identical to TensorBoard's own writer (fixture made by
//! scripts/reference/tfevents.py), and a run's files read back with the expected tags and steps.

use std::path::{Path, PathBuf};

use lpipe::io::tfevents::{file_version_event, masked_crc, record, scalar_event};

use crate::support::lpipe;
use crate::support::sweep::{scratch, sweep_pipeline, write_tiny_llama};

/// (wall_time, step, tag, value) as scripts/reference/tfevents.py wrote them.
const EVENTS: [(f64, u64, &str, f64); 5] = [
    (1733500000.25, 0, "train/loss", 2.5),
    (1733500001.5, 1, "train/loss", 1.75),
    (1733500001.5, 1, "train/lr", 3e-4),
    (1733500002.0, 300, "val/loss", 0.875),
    (
        1733500003.0,
        1000000,
        "eval/adapter/heldout/exact_match",
        0.45,
    ),
];

#[test]
fn records_equal_tensorboards_own_writer() {
    let reference = std::fs::read("tests/fixtures/tfevents/reference.tfevents").unwrap();
    let mut ours = record(&file_version_event(1733500000.0));
    for (wall, step, tag, value) in EVENTS {
        ours.extend(record(&scalar_event(tag, step, value as f32, wall)));
    }
    assert_eq!(ours, reference);
}

/// One scalar read back: (step, tag, value).
type Scalar = (u64, String, f32);

/// Reads every record of an event file, checking both CRCs, and decodes each `Event`'s step and
/// `Summary.Value`s (the fields lpipe writes).
fn read_events(path: &Path) -> Vec<Scalar> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    let mut first = true;
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        assert_eq!(crc, masked_crc(len_bytes), "length CRC at {at}");
        let payload = &bytes[at + 12..at + 12 + len];
        let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
        assert_eq!(crc, masked_crc(payload), "payload CRC at {at}");
        at += 16 + len;
        let fields = fields(payload);
        if first {
            assert!(fields.iter().any(|(n, v)| *n == 3 && v == b"brain.Event:2"));
            first = false;
            continue;
        }
        let step = fields
            .iter()
            .find(|(n, _)| *n == 2)
            .map_or(0, |(_, v)| u64::from_le_bytes(v[..8].try_into().unwrap()));
        for (_, summary) in fields.iter().filter(|(n, _)| *n == 5) {
            for (_, value) in fields_of(summary).iter().filter(|(n, _)| *n == 1) {
                let value = fields_of(value);
                let tag = value.iter().find(|(n, _)| *n == 1).unwrap();
                let simple = value.iter().find(|(n, _)| *n == 2).unwrap();
                out.push((
                    step,
                    String::from_utf8(tag.1.clone()).unwrap(),
                    f32::from_le_bytes(simple.1[..4].try_into().unwrap()),
                ));
            }
        }
    }
    out
}

fn fields(payload: &[u8]) -> Vec<(u64, Vec<u8>)> {
    fields_of(payload)
}

/// A protobuf message's fields as (number, bytes): varints as 8 LE bytes, fixed-width as they are.
fn fields_of(mut b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[0];
            *b = &b[1..];
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let value = match key & 7 {
            0 => varint(&mut b).to_le_bytes().to_vec(),
            1 => {
                let v = b[..8].to_vec();
                b = &b[8..];
                v
            }
            2 => {
                let n = varint(&mut b) as usize;
                let v = b[..n].to_vec();
                b = &b[n..];
                v
            }
            5 => {
                let v = b[..4].to_vec();
                b = &b[4..];
                v
            }
            other => panic!("wire type {other}"),
        };
        out.push((key >> 3, value));
    }
    out
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_reader_reads_the_reference() {
    let scalars = read_events(Path::new("tests/fixtures/tfevents/reference.tfevents"));
    let expected: Vec<Scalar> = EVENTS
        .iter()
        .map(|(_, step, tag, value)| (*step, tag.to_string(), *value as f32))
        .collect();
    assert_eq!(scalars, expected);
}

#[test]
fn a_run_logs_training_validation_and_scores() {
    let root = scratch("tensorboard-run");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let text = sweep_pipeline("tb", &model, &root.join("runs"), "");
    let text = text[..text.find("sweep {").unwrap()]
        .replace(
            "  max_iters = 3\n",
            "  max_iters = 4\n  eval_interval = 1\n",
        )
        .replace("  on = [adapter]\n", "  on = [base, adapter]\n");
    let file = root.join("tb.lpipe");
    std::fs::write(&file, &text).unwrap();
    let out = lpipe(&root, &["run", "--quiet"], &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = root.join("runs/tb/tb");
    let mut scalars: Vec<Scalar> = event_files(&run)
        .iter()
        .flat_map(|f| read_events(f))
        .collect();
    scalars.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let at =
        |tag: &str| -> Vec<u64> { scalars.iter().filter(|s| s.1 == tag).map(|s| s.0).collect() };
    for tag in [
        "train/loss",
        "train/lr",
        "train/grad_norm",
        "train/tokens_per_s",
        "val/loss",
    ] {
        assert_eq!(at(tag), [1, 2, 3, 4], "{tag}: {scalars:?}");
    }
    assert_eq!(at("eval/base/heldout/exact_match"), [0]);
    assert_eq!(at("eval/adapter/heldout/exact_match"), [4]);
    // The losses are metrics.jsonl's, as f32.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    let loss = scalars.iter().find(|s| s.1 == "train/loss").unwrap().2;
    assert_eq!(loss, first["loss"].as_f64().unwrap() as f32, "{first}");

    // `tensorboard = false` writes none.
    let quiet = root.join("quiet.lpipe");
    std::fs::write(
        &quiet,
        text.replace("name = \"tb\"", "name = \"quiet\"")
            .replace("  seed = 7\n", "  seed = 7\n  tensorboard = false\n"),
    )
    .unwrap();
    let out = lpipe(&root, &["run", "--quiet"], &quiet);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(event_files(&root.join("runs/quiet/quiet")).is_empty());
    std::fs::remove_dir_all(&root).ok();
}
