//! Llama 2 SentencePiece: ids identical to sentencepiece 0.2 for the 300 golden Alpaca records.

use std::path::{Path, PathBuf};

use lpipe::tokenizer::{self, SentencePiece, Tokenizer};
use serde_json::Value;

fn shared() -> Option<PathBuf> {
    lpipe::testing::shared()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The Stanford/LitGPT Alpaca template the golden file was made with (its `template` header).
fn alpaca_prompt(record: &Value) -> String {
    let instruction = record["instruction"].as_str().unwrap();
    let input = record["input"].as_str().unwrap_or("");
    if input.is_empty() {
        format!(
            "Below is an instruction that describes a task. Write a response that appropriately \
             completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
        )
    } else {
        format!(
            "Below is an instruction that describes a task, paired with an input that provides \
             further context. Write a response that appropriately completes the request.\n\n\
             ### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
        )
    }
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn llama2_alpaca_first300_ids_match_sentencepiece() {
    let Some(shared) = shared() else { return };
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let golden = read_json(&shared.join("golden/llama2_tokenizer/alpaca_first300.json"));
    assert!(golden["tokenizer"].as_str().unwrap().contains("no BOS/EOS"));
    let data = read_json(&shared.join("data/alpaca/alpaca_data.json"));
    let records = golden["records"].as_array().unwrap();
    assert_eq!(records.len(), 300);
    let mut mismatches = Vec::new();
    for g in records {
        let index = g["index"].as_u64().unwrap() as usize;
        let record = &data[index];
        let prompt = alpaca_prompt(record);
        let full = format!("{prompt}{}", record["output"].as_str().unwrap());
        if sp.encode(&prompt, false) != ids(&g["prompt_ids"])
            || sp.encode(&full, false) != ids(&g["full_ids"])
        {
            mismatches.push(index);
        }
        assert_eq!(
            sp.decode(&sp.encode(&full, false)),
            full,
            "round trip of record {index}"
        );
    }
    assert!(
        mismatches.is_empty(),
        "records differing from sentencepiece: {mismatches:?}"
    );
}

#[test]
fn llama2_special_ids_and_bos() {
    let Some(shared) = shared() else { return };
    let tok = tokenizer::load(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    assert_eq!(
        (tok.bos_id(), tok.eos_id(), tok.vocab_size()),
        (Some(1), Some(2), 32000)
    );
    // "▁Hello" = 15043, "▁world" = 3186 in the Llama 2 vocabulary.
    assert_eq!(tok.encode("Hello world", true), vec![1, 15043, 3186]);
    assert_eq!(tok.encode("", true), vec![1]);
    assert_eq!(tok.token_to_id("<0x0A>"), Some(13));
}

fn fixture() -> Value {
    read_json(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer_reference.json"),
    )
}

fn digest(ids: &[u32]) -> String {
    use sha2::{Digest, Sha256};
    let text: Vec<String> = ids.iter().map(u32::to_string).collect();
    // The fixture keeps the first 64 bits of each digest.
    Sha256::digest(text.join(",").as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whitespace runs, byte fallback (emoji, rare CJK), literal `<s>`, decode of invalid bytes.
#[test]
fn llama2_tricky_strings_match_sentencepiece() {
    let Some(shared) = shared() else { return };
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = sp.encode(text, false);
        assert_eq!(got, ids(&case["sentencepiece"]), "ids of {text:?}");
        assert_eq!(
            sp.decode(&got),
            case["sentencepiece_decoded"].as_str().unwrap(),
            "decode of {text:?}"
        );
    }
    // <0xE4> <0xBD> alone is an incomplete UTF-8 sequence: one U+FFFD per byte, as sentencepiece.
    let e4 = sp.token_to_id("<0xE4>").unwrap();
    let bd = sp.token_to_id("<0xBD>").unwrap();
    assert_eq!(sp.decode(&[e4, bd, 15043]), "\u{FFFD}\u{FFFD} Hello");
}

/// 300 more Alpaca texts (records 300..600, fields joined by blank lines), by digest.
#[test]
fn llama2_alpaca_next300_digests_match_sentencepiece() {
    let Some(shared) = shared() else { return };
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let fixture = fixture();
    let data = read_json(&shared.join("data/alpaca/alpaca_data.json"));
    let start = fixture["alpaca"]["start"].as_u64().unwrap() as usize;
    let want = fixture["alpaca"]["sentencepiece_sha256"]
        .as_array()
        .unwrap();
    let bad: Vec<usize> = (0..want.len())
        .filter(|&i| {
            let r = &data[start + i];
            let text = format!(
                "{}\n\n{}\n\n{}",
                r["instruction"].as_str().unwrap(),
                r["input"].as_str().unwrap(),
                r["output"].as_str().unwrap()
            );
            digest(&sp.encode(&text, false)) != want[i].as_str().unwrap()
        })
        .map(|i| start + i)
        .collect();
    assert!(
        bad.is_empty(),
        "records differing from sentencepiece: {bad:?}"
    );
}

#[test]
fn corrupt_model_files_are_diagnostics() {
    let path = Path::new("bad.model");
    let err = SentencePiece::from_bytes(&[0x0a, 0x05, 0x0a], path).unwrap_err();
    assert!(err.to_string().contains("bad.model"), "{err}");
    assert!(err.to_string().contains("byte"), "{err}");
    let err = SentencePiece::from_bytes(&[], path).unwrap_err();
    assert!(err.to_string().contains("no pieces"), "{err}");
    let err = tokenizer::load(Path::new("/nonexistent/tokenizer.model"))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("/nonexistent/tokenizer.model"),
        "{err}"
    );
}

/// All 52,002 Alpaca records: length statistics equal to `alpaca_length_stats.json`
/// (made with sentencepiece; lengths are integers, so the mean must agree to f64 rounding).
#[test]
fn llama2_alpaca_all_records_length_stats_match_reference() {
    let Some(shared) = shared() else { return };
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let stats = read_json(&shared.join("golden/llama2_tokenizer/alpaca_length_stats.json"));
    let data = read_json(&shared.join("data/alpaca/alpaca_data.json"));
    let records = data.as_array().unwrap();
    let started = std::time::Instant::now();
    let mut lengths: Vec<usize> = records
        .iter()
        .map(|r| {
            let full = format!("{}{}", alpaca_prompt(r), r["output"].as_str().unwrap());
            sp.encode(&full, false).len()
        })
        .collect();
    println!(
        "encoded {} records in {:?}",
        lengths.len(),
        started.elapsed()
    );
    lengths.sort_unstable();
    let n = lengths.len();
    let median = if n.is_multiple_of(2) {
        (lengths[n / 2 - 1] + lengths[n / 2]) as f64 / 2.0
    } else {
        lengths[n / 2] as f64
    };
    let mean = lengths.iter().sum::<usize>() as f64 / n as f64;
    assert_eq!(n, 52002);
    assert_eq!(median, stats["median"].as_f64().unwrap());
    assert!(
        (mean - stats["mean"].as_f64().unwrap()).abs() < 1e-9,
        "mean {mean}"
    );
    assert_eq!(lengths[0] as u64, stats["min"].as_u64().unwrap());
    assert_eq!(lengths[n - 1] as u64, stats["max"].as_u64().unwrap());
}
