//! `lpipe tokenize` end to end with the Llama 2 tokenizer and the golden ids.

use std::process::Command;

use crate::support::data::temp_dir;

fn lpipe(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .args(args)
        .output()
        .expect("run lpipe");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn templated_record_ids_match_the_golden_file() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let tokenizer = shared.join("data/llama2_tokenizer/tokenizer.model");
    let golden =
        std::fs::read_to_string(shared.join("golden/llama2_tokenizer/alpaca_first300.json"))
            .unwrap();
    let golden: serde_json::Value = serde_json::from_str(&golden).unwrap();
    let record = &golden["records"][0];
    let output = "1.Eat a balanced diet and make sure to include plenty of fruits and vegetables. \n2. Exercise regularly to keep your body active and strong. \n3. Get enough sleep and maintain a consistent sleep schedule.";
    let (code, stdout, stderr) = lpipe(&[
        "tokenize",
        "--tokenizer",
        tokenizer.to_str().unwrap(),
        "--template",
        "alpaca",
        "--json",
        "--output",
        output,
        "Give three tips for staying healthy.",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["ids"], record["full_ids"]);
    let prompt_len = line["prompt_len"].as_u64().unwrap() as usize;
    assert_eq!(prompt_len, record["prompt_ids"].as_array().unwrap().len());
}

#[test]
fn records_file_prints_lengths_and_stats_or_every_bad_record() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let tokenizer = shared.join("data/llama2_tokenizer/tokenizer.model");
    let dir = temp_dir("cli");
    let good = dir.join("good.jsonl");
    std::fs::write(&good, "{\"instruction\": \"Say hi.\", \"output\": \"Hi\"}\n{\"instruction\": \"Add.\", \"input\": \"1 2\", \"output\": \"3\"}\n").unwrap();
    let (code, stdout, stderr) = lpipe(&[
        "tokenize",
        "--tokenizer",
        tokenizer.to_str().unwrap(),
        "--records",
        good.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("record 0: ") && stdout.contains("record 1: "),
        "{stdout}"
    );
    assert!(stdout.contains("2 examples, tokens: median"), "{stdout}");

    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "[{\"instruction\": \"a\"}, {\"output\": 1, \"instruction\": \"b\"}]",
    )
    .unwrap();
    let (code, _, stderr) = lpipe(&[
        "tokenize",
        "--tokenizer",
        tokenizer.to_str().unwrap(),
        "--records",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    for needle in [
        "lpipe::E402",
        "2 malformed records",
        "record 0: missing field `output`",
        "record 1: field `output` is a number",
    ] {
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
}
