//! SmolLM2 GGUF byte-level BPE: ids identical to `golden/gguf_smollm2/forward.json` (prompts,
//! continuations, chat template, tokenizer cross-check) and to python `tokenizers` on the fixture.

use std::path::PathBuf;

use lpipe::model::gguf::GgufFile;
use lpipe::tokenizer::{self, BpeTokenizer, TokenType, Tokenizer};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn model() -> Option<PathBuf> {
    lpipe::testing::smollm2()
}

fn shared() -> Option<PathBuf> {
    lpipe::testing::shared()
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
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

/// The GGUF vocabulary rebuilt with another pre-tokenizer name (the transformers convention).
fn with_pre(file: &GgufFile, pre: &str) -> BpeTokenizer {
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
    let types = file
        .get_i32_array("tokenizer.ggml.token_type")
        .unwrap()
        .iter()
        .map(|&t| TokenType::from_gguf(i64::from(t)))
        .collect();
    BpeTokenizer::from_vocab(tokens, merges, types, Some(1), Some(2), pre, false).unwrap()
}

#[test]
fn smollm2_ids_match_forward_json() {
    let (Some(model), Some(shared)) = (model(), shared()) else {
        return;
    };
    let tok = tokenizer::load(&model).unwrap();
    let golden = read_json(&shared.join("golden/gguf_smollm2/forward.json"));
    assert_eq!(tok.vocab_size(), 49152);
    // SmolLM2 defines <|im_start|> as BOS but never prepends it (add_bos_token = false).
    assert_eq!((tok.bos_id(), tok.eos_id()), (None, Some(2)));
    for p in golden["prompts"].as_array().unwrap() {
        let prompt = p["prompt"].as_str().unwrap();
        assert_eq!(tok.encode(prompt, true), ids(&p["input_ids"]), "{prompt:?}");
        let cont = p["continuation"].as_str().unwrap();
        assert_eq!(
            tok.encode(cont, false),
            ids(&p["continuation_ids"]),
            "{cont:?}"
        );
        assert_eq!(tok.decode(&tok.encode(prompt, false)), prompt);
        let greedy = ids(&p["greedy16_ids_manual_argmax_no_eos_stop"]);
        assert_eq!(
            tok.decode(&greedy),
            p["greedy16_text_manual_skip_special"].as_str().unwrap()
        );
        let tokens: Vec<&str> = tok
            .encode(prompt, false)
            .iter()
            .map(|&i| tok.id_to_token(i).unwrap())
            .collect();
        let want: Vec<&str> = p["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tokens, want);
    }
    let chat = &golden["chat_template_example"];
    let rendered = chat["rendered"].as_str().unwrap();
    assert_eq!(tok.encode(rendered, false), ids(&chat["ids"]));
    assert_eq!(tok.token_to_id("<|im_end|>"), Some(2));
}

/// Both conventions of the cross-check: upstream/llama.cpp (`smollm`: digits isolated) is what
/// lpipe uses for this GGUF; transformers' GGUF loader (plain GPT-2 split) is `gpt2`.
#[test]
fn smollm2_tokenizer_crosscheck_both_conventions() {
    let (Some(model), Some(shared)) = (model(), shared()) else {
        return;
    };
    let file = GgufFile::open(&model).unwrap();
    let upstream = BpeTokenizer::from_gguf(&file).unwrap();
    let transformers = with_pre(&file, "gpt2");
    let overridden = BpeTokenizer::from_gguf_with_pre(&file, Some("gpt2")).unwrap();
    let golden = read_json(&shared.join("golden/gguf_smollm2/forward.json"));
    let cases = golden["tokenizer_crosscheck"]["cases"].as_array().unwrap();
    assert!(
        cases.iter().any(|c| !c["equal"].as_bool().unwrap()),
        "the cases must tell the two apart"
    );
    for c in cases {
        let text = c["text"].as_str().unwrap();
        assert_eq!(
            upstream.encode(text, false),
            ids(&c["llamacpp_smollm_pre_ids"]),
            "{text:?}"
        );
        assert_eq!(
            transformers.encode(text, false),
            ids(&c["transformers_gguf_ids"]),
            "{text:?}"
        );
        assert_eq!(
            overridden.encode(text, false),
            ids(&c["transformers_gguf_ids"])
        );
        let decoded = upstream.decode(&upstream.encode(text, false));
        assert_eq!(
            decoded,
            text.replace("<|im_end|>", ""),
            "round trip of {text:?}"
        );
    }
}

#[test]
fn smollm2_matches_python_tokenizers_on_fixture() {
    let (Some(model), Some(shared)) = (model(), shared()) else {
        return;
    };
    let file = GgufFile::open(&model).unwrap();
    let tok = BpeTokenizer::from_gguf(&file).unwrap();
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer_reference.json");
    let fixture = read_json(&path);
    for case in fixture["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = tok.encode(text, false);
        assert_eq!(got, ids(&case["smollm2"]), "ids of {text:?}");
        assert_eq!(
            tok.decode(&got),
            case["smollm2_decoded"].as_str().unwrap(),
            "decode of {text:?}"
        );
    }
    let data = read_json(&shared.join("data/alpaca/alpaca_data.json"));
    let start = fixture["alpaca"]["start"].as_u64().unwrap() as usize;
    let want = fixture["alpaca"]["smollm2_sha256"].as_array().unwrap();
    let bad: Vec<usize> = (0..want.len())
        .filter(|&i| {
            let r = &data[start + i];
            let text = format!(
                "{}\n\n{}\n\n{}",
                r["instruction"].as_str().unwrap(),
                r["input"].as_str().unwrap(),
                r["output"].as_str().unwrap()
            );
            let got = tok.encode(&text, false);
            assert_eq!(tok.decode(&got), text, "round trip of record {}", start + i);
            digest(&got) != want[i].as_str().unwrap()
        })
        .map(|i| start + i)
        .collect();
    assert!(bad.is_empty(), "records differing from tokenizers: {bad:?}");
}

#[test]
fn unknown_pre_tokenizer_is_a_diagnostic() {
    let err = BpeTokenizer::from_vocab(
        vec!["a".into()],
        vec![],
        vec![TokenType::Normal],
        None,
        None,
        "falcon",
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("falcon"), "{err}");
    let err = BpeTokenizer::from_vocab(
        vec!["a".into(), "b".into()],
        vec![("a".into(), "b".into())],
        vec![TokenType::Normal; 2],
        None,
        None,
        "gpt2",
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("`ab`"), "{err}");
}
