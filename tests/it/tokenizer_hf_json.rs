//! HF `tokenizer.json`: ids identical to the python `tokenizers` library for tokenizer.json files
//! built here the same way `scripts/reference/tokenizer_fixture.py` built them (fixture
//! `tests/fixtures/tokenizer_reference.json`): a Metaspace + byte-fallback BPE made from the
//! Llama 2 SentencePiece vocabulary, and the SmolLM2 byte-level BPE from the GGUF vocabulary.

use std::path::PathBuf;

use lpipe::tokenizer::sentencepiece::model_proto::PieceType;
use lpipe::tokenizer::{SentencePiece, Tokenizer, hf_json};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn fixture() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn shared() -> Option<PathBuf> {
    lpipe::testing::shared()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn digest(ids: &[u32]) -> String {
    let text: Vec<String> = ids.iter().map(u32::to_string).collect();
    // The fixture keeps the first 64 bits of each digest.
    Sha256::digest(text.join(",").as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fixture's Alpaca texts: instruction, input and output joined by blank lines.
fn alpaca_texts(shared: &std::path::Path, fixture: &Value) -> Vec<String> {
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("data/alpaca/alpaca_data.json")).unwrap(),
    )
    .unwrap();
    let start = fixture["alpaca"]["start"].as_u64().unwrap() as usize;
    let count = fixture["alpaca"]["count"].as_u64().unwrap() as usize;
    (start..start + count)
        .map(|i| {
            let r = &data[i];
            format!(
                "{}\n\n{}\n\n{}",
                r["instruction"].as_str().unwrap(),
                r["input"].as_str().unwrap(),
                r["output"].as_str().unwrap()
            )
        })
        .collect()
}

/// Mirrors `extract_merges` in the fixture script.
fn extract_merges(sp: &SentencePiece) -> Vec<(String, String)> {
    let pieces = &sp.proto().pieces;
    let index: std::collections::HashMap<&str, usize> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (p.piece.as_str(), i))
        .collect();
    let mut found = Vec::new();
    for (mid, p) in pieces.iter().enumerate() {
        if p.kind != PieceType::Normal {
            continue;
        }
        for (k, _) in p.piece.char_indices().skip(1) {
            let (l, r) = p.piece.split_at(k);
            if let (Some(&li), Some(&ri)) = (index.get(l), index.get(r)) {
                found.push((p.score, mid, li, ri, l.to_string(), r.to_string()));
            }
        }
    }
    found.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3)))
    });
    found.into_iter().map(|m| (m.4, m.5)).collect()
}

fn llama2_tokenizer_json(sp: &SentencePiece) -> (Value, usize) {
    let pieces = &sp.proto().pieces;
    let vocab: serde_json::Map<String, Value> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (p.piece.clone(), json!(i)))
        .collect();
    let merges = extract_merges(sp);
    let added: Vec<Value> = pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, PieceType::Unknown | PieceType::Control))
        .map(|(i, p)| {
            json!({"id": i, "content": p.piece, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    let doc = json!({
        "version": "1.0",
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                  "vocab": vocab, "merges": merges.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()}
    });
    (doc, merges.len())
}

/// Encodes the fixture cases and Alpaca texts; compares with `key` and `<key>_sha256`.
fn check_against_fixture(
    tok: &dyn Tokenizer,
    shared: &std::path::Path,
    fixture: &Value,
    key: &str,
) {
    for case in fixture["cases"].as_array().unwrap() {
        let t = case["text"].as_str().unwrap();
        assert_eq!(tok.encode(t, false), ids(&case[key]), "{key}: ids of {t:?}");
    }
    let texts = alpaca_texts(shared, fixture);
    let want = fixture["alpaca"][format!("{key}_sha256")]
        .as_array()
        .unwrap();
    let bad: Vec<usize> = (0..texts.len())
        .filter(|&i| digest(&tok.encode(&texts[i], false)) != want[i].as_str().unwrap())
        .collect();
    assert!(
        bad.is_empty(),
        "{key}: alpaca texts differing from tokenizers: {bad:?}"
    );
}

/// Older HF Llama files normalize (Prepend `▁`, Replace ` ` → `▁`) instead of pre-tokenizing.
#[test]
fn llama2_legacy_normalizer_tokenizer_json_matches_python_tokenizers() {
    let Some(shared) = shared() else { return };
    let fixture = fixture();
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let (mut doc, _) = llama2_tokenizer_json(&sp);
    doc["pre_tokenizer"] = Value::Null;
    doc["normalizer"] = json!({"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
    ]});
    let tok = hf_json::from_str(&doc.to_string()).unwrap();
    check_against_fixture(&tok, &shared, &fixture, "llama2_legacy");
}

/// Llama 3's Split regex (look-ahead, case-insensitive group) and `ignore_merges`, over the
/// SmolLM2 vocabulary: through tokenizer.json and through the GGUF `llama-bpe` pre-tokenizer name.
#[test]
fn llama3_split_pattern_matches_python_tokenizers() {
    let Some(shared) = shared() else { return };
    let Some(model) = lpipe::testing::smollm2() else {
        return;
    };
    let fixture = fixture();
    let file = lpipe::model::gguf::GgufFile::open(&model).unwrap();
    let mut doc: Value = serde_json::from_str(&smollm2_tokenizer_json(&file)).unwrap();
    doc["added_tokens"] = json!([]);
    doc["model"]["ignore_merges"] = json!(true);
    doc["pre_tokenizer"] = json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": lpipe::tokenizer::bpe::gguf_pre::LLAMA3_PATTERN},
         "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
    ]});
    let tok = hf_json::from_str(&doc.to_string()).unwrap();
    check_against_fixture(&tok, &shared, &fixture, "smollm2_llama3");

    let tokens = file
        .get_str_array("tokenizer.ggml.tokens")
        .unwrap()
        .to_vec();
    let merges = file
        .get_str_array("tokenizer.ggml.merges")
        .unwrap()
        .iter()
        .map(|m| {
            let (a, b) = m.split_once(' ').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    let n = tokens.len();
    let gguf_style = lpipe::tokenizer::BpeTokenizer::from_vocab(
        tokens,
        merges,
        vec![lpipe::tokenizer::TokenType::Normal; n],
        None,
        None,
        "llama-bpe",
        false,
    )
    .unwrap();
    check_against_fixture(&gguf_style, &shared, &fixture, "smollm2_llama3");
}

#[test]
fn llama2_metaspace_tokenizer_json_matches_python_tokenizers() {
    let Some(shared) = shared() else { return };
    let fixture = fixture();
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let (text, n_merges) = llama2_tokenizer_json(&sp);
    assert_eq!(
        n_merges as u64,
        fixture["llama2_hf_merges"].as_u64().unwrap()
    );
    let tok = hf_json::from_str(&text.to_string()).unwrap();
    assert_eq!((tok.bos_id(), tok.vocab_size()), (Some(1), 32000));
    for case in fixture["cases"].as_array().unwrap() {
        let t = case["text"].as_str().unwrap();
        let got = tok.encode(t, false);
        assert_eq!(got, ids(&case["llama2_hf"]), "ids of {t:?}");
        assert_eq!(
            tok.encode(t, true),
            ids(&case["llama2_hf_with_bos"]),
            "ids+BOS of {t:?}"
        );
        assert_eq!(
            tok.decode(&got),
            case["llama2_hf_decoded"].as_str().unwrap(),
            "decode of {t:?}"
        );
    }
    let texts = alpaca_texts(&shared, &fixture);
    let want = fixture["alpaca"]["llama2_hf_sha256"].as_array().unwrap();
    let bad: Vec<usize> = (0..texts.len())
        .filter(|&i| digest(&tok.encode(&texts[i], false)) != want[i].as_str().unwrap())
        .collect();
    assert!(
        bad.is_empty(),
        "alpaca texts differing from tokenizers: {bad:?}"
    );
}

#[test]
fn malformed_tokenizer_json_is_a_diagnostic() {
    let err = hf_json::from_str("{\"model\": {\"type\": \"WordPiece\"}}").unwrap_err();
    assert!(err.to_string().contains("WordPiece"), "{err}");
    let err = hf_json::from_str("not json").unwrap_err();
    assert!(matches!(err, lpipe::tokenizer::TokenizerError::Json { .. }));
    let huge_id = r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
        "added_tokens": [{"id": 4000000000, "content": "<x>", "special": true}]}"#;
    let err = hf_json::from_str(huge_id).unwrap_err();
    assert!(err.to_string().contains("4000000000"), "{err}");
    let bad_merge = r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#;
    let err = hf_json::from_str(bad_merge).unwrap_err();
    assert!(err.to_string().contains("`b`"), "{err}");
}

fn smollm2_tokenizer_json(file: &lpipe::model::gguf::GgufFile) -> String {
    let tokens = file.get_str_array("tokenizer.ggml.tokens").unwrap();
    let types = file.get_i32_array("tokenizer.ggml.token_type").unwrap();
    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    let added: Vec<Value> = tokens
        .iter()
        .zip(types)
        .enumerate()
        .filter(|(_, (_, ty))| **ty == 3)
        .map(|(i, (t, _))| {
            json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": file.get_str_array("tokenizer.ggml.merges").unwrap()}
    })
    .to_string()
}

/// SmolLM2's vocabulary as an upstream-style tokenizer.json, loaded through `tokenizer::load` on
/// a directory (with a `tokenizer_config.json` naming EOS, as HF model directories have).
#[test]
fn smollm2_byte_level_tokenizer_json_matches_python_tokenizers() {
    let Some(shared) = shared() else { return };
    let Some(model) = lpipe::testing::smollm2() else {
        return;
    };
    let file = lpipe::model::gguf::GgufFile::open(&model).unwrap();
    let dir = lpipe::testing::scratch("tok-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tokenizer.json"), smollm2_tokenizer_json(&file)).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"add_bos_token": false, "bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}}"#,
    )
    .unwrap();
    let tok = lpipe::tokenizer::load(&dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        (tok.bos_id(), tok.eos_id(), tok.vocab_size()),
        (None, Some(2), 49152)
    );
    let fixture = fixture();
    for case in fixture["cases"].as_array().unwrap() {
        let t = case["text"].as_str().unwrap();
        let got = tok.encode(t, false);
        assert_eq!(got, ids(&case["smollm2"]), "ids of {t:?}");
        assert_eq!(
            tok.decode(&got),
            case["smollm2_decoded"].as_str().unwrap(),
            "decode of {t:?}"
        );
    }
    let texts = alpaca_texts(&shared, &fixture);
    let want = fixture["alpaca"]["smollm2_sha256"].as_array().unwrap();
    let first5 = fixture["alpaca"]["smollm2_first5"].as_array().unwrap();
    for (i, w) in first5.iter().enumerate() {
        assert_eq!(tok.encode(&texts[i], false), ids(w), "alpaca text {i}");
    }
    let bad: Vec<usize> = (0..texts.len())
        .filter(|&i| digest(&tok.encode(&texts[i], false)) != want[i].as_str().unwrap())
        .collect();
    assert!(
        bad.is_empty(),
        "alpaca texts differing from tokenizers: {bad:?}"
    );
}

/// Nine pre-tokenizer configurations (split behaviours, invert, Whitespace, WhitespaceSplit,
/// contiguous Digits, ByteLevel prefix space, Metaspace before ByteLevel), each swapped into the
/// SmolLM2 tokenizer.json exactly as the fixture script did, against python `tokenizers`.
#[test]
fn pre_tokenizer_variants_match_python_tokenizers() {
    let Some(shared) = shared() else { return };
    let Some(model) = lpipe::testing::smollm2() else {
        return;
    };
    let fixture = fixture();
    let file = lpipe::model::gguf::GgufFile::open(&model).unwrap();
    let base: Value = serde_json::from_str(&smollm2_tokenizer_json(&file)).unwrap();
    let texts = alpaca_texts(&shared, &fixture);
    let cases = fixture["cases"].as_array().unwrap();
    let variants = fixture["pre_variants"].as_object().unwrap();
    assert_eq!(variants.len(), 9);
    for (name, variant) in variants {
        let mut doc = base.clone();
        doc["pre_tokenizer"] = variant["pre_tokenizer"].clone();
        let tok = hf_json::from_str(&doc.to_string()).unwrap();
        for (case, want) in cases.iter().zip(variant["cases"].as_array().unwrap()) {
            let t = case["text"].as_str().unwrap();
            assert_eq!(tok.encode(t, false), ids(want), "{name}: ids of {t:?}");
        }
        let want = variant["alpaca_sha256"].as_array().unwrap();
        let bad: Vec<usize> = (0..want.len())
            .filter(|&i| digest(&tok.encode(&texts[i], false)) != want[i].as_str().unwrap())
            .collect();
        assert!(
            bad.is_empty(),
            "{name}: alpaca texts differing from tokenizers: {bad:?}"
        );
    }
}
