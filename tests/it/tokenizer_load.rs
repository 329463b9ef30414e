//! `tokenizer::load` format detection and diagnostics, and SentencePiece options Llama 2 does not
//! use, checked against two tiny models trained by `scripts/reference/tokenizer_fixture.py`.

use std::path::{Path, PathBuf};

use lpipe::tokenizer::{self, SentencePiece, Tokenizer, TokenizerError};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// User-defined symbols, remove_extra_whitespaces, unknown runs (no byte fallback), and
/// treat_whitespace_as_suffix with byte fallback: ids and decoded text as sentencepiece 0.2.
#[test]
fn tiny_sentencepiece_models_match_sentencepiece() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tokenizer_reference.json")).unwrap(),
    )
    .unwrap();
    let models = reference["tiny_models"].as_object().unwrap();
    let alpaca = alpaca_texts(&reference);
    let mut checked = 0;
    for (name, cases) in models {
        if let Some(name) = name.strip_suffix("_alpaca_sha256") {
            let Some(texts) = &alpaca else { continue };
            let sp = SentencePiece::from_file(&fixtures().join(format!("{name}.model"))).unwrap();
            let want = cases.as_array().unwrap();
            let bad: Vec<usize> = (0..texts.len())
                .filter(|&i| digest(&sp.encode(&texts[i], false)) != want[i].as_str().unwrap())
                .collect();
            assert!(
                bad.is_empty(),
                "{name}: alpaca texts differing from sentencepiece: {bad:?}"
            );
            continue;
        }
        checked += 1;
        let sp = SentencePiece::from_file(&fixtures().join(format!("{name}.model"))).unwrap();
        for case in cases.as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let got = sp.encode(text, false);
            assert_eq!(got, ids(&case["ids"]), "{name}: ids of {text:?}");
            assert_eq!(
                sp.decode(&got),
                case["decoded"].as_str().unwrap(),
                "{name}: decode of {text:?}"
            );
        }
    }
    assert_eq!(checked, 4);
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

/// The fixture's Alpaca texts, when the shared data is present.
fn alpaca_texts(reference: &Value) -> Option<Vec<String>> {
    let shared = lpipe::testing::shared()?;
    let path = shared.join("data/alpaca/alpaca_data.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let start = reference["alpaca"]["start"].as_u64()? as usize;
    let count = reference["alpaca"]["count"].as_u64()? as usize;
    Some(
        (start..start + count)
            .map(|i| {
                let r = &data[i];
                let f = |k: &str| r[k].as_str().unwrap_or("").to_string();
                format!("{}\n\n{}\n\n{}", f("instruction"), f("input"), f("output"))
            })
            .collect(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = lpipe::testing::scratch(&format!("tok-load-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn code(err: &TokenizerError) -> String {
    use miette::Diagnostic;
    err.code().map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn load_detects_each_format_and_names_bad_files() {
    // A SentencePiece model, found by content and through its directory.
    let tiny = fixtures().join("sp_tiny_bpe.model");
    assert_eq!(tokenizer::load(&tiny).unwrap().vocab_size(), 400);
    let dir = scratch("dir");
    std::fs::copy(&tiny, dir.join("tokenizer.model")).unwrap();
    assert_eq!(tokenizer::load(&dir).unwrap().vocab_size(), 400);

    // tokenizer.json wins over tokenizer.model in a directory.
    let json =
        r#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}"#;
    std::fs::write(dir.join("tokenizer.json"), json).unwrap();
    let tok = tokenizer::load(&dir).unwrap();
    assert_eq!((tok.vocab_size(), tok.encode("ab", false)), (3, vec![2]));

    // Unknown content, empty directory, missing file, corrupt JSON: diagnostics naming the path.
    let junk = dir.join("vocab.txt");
    std::fs::write(&junk, "[CLS]\n[SEP]\n").unwrap();
    let err = tokenizer::load(&junk).err().unwrap();
    assert_eq!(code(&err), "lpipe::E351");
    assert!(err.to_string().contains("vocab.txt"), "{err}");
    let empty = scratch("empty");
    let err = tokenizer::load(&empty).err().unwrap();
    assert_eq!(code(&err), "lpipe::E351");
    let err = tokenizer::load(Path::new("/nonexistent/tokenizer.json"))
        .err()
        .unwrap();
    assert_eq!(code(&err), "lpipe::E350");
    std::fs::write(dir.join("tokenizer.json"), "{\"model\": ").unwrap();
    let err = tokenizer::load(&dir).err().unwrap();
    assert_eq!(code(&err), "lpipe::E355");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");

    // A GGUF without tokenizer metadata (header, version 3, no tensors, no keys).
    let gguf = dir.join("empty.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    std::fs::write(&gguf, bytes).unwrap();
    let err = tokenizer::load(&gguf).err().unwrap();
    assert_eq!(code(&err), "lpipe::E356");
    assert!(err.to_string().contains("empty.gguf"), "{err}");

    // A truncated SentencePiece model.
    let cut = dir.join("cut.model");
    std::fs::write(&cut, &std::fs::read(&tiny).unwrap()[..1000]).unwrap();
    let err = tokenizer::load(&cut).err().unwrap();
    assert_eq!(code(&err), "lpipe::E352");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&empty).ok();
}

#[test]
fn encode_batch_equals_encode() {
    let sp = SentencePiece::from_file(&fixtures().join("sp_tiny_suffix.model")).unwrap();
    let texts: Vec<String> = (0..500)
        .map(|i| format!("record {i}: Zürich  {}", "ab ".repeat(i % 7)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = sp.encode_batch(&refs, true);
    assert_eq!(batch.len(), texts.len());
    for (t, ids) in refs.iter().zip(&batch) {
        assert_eq!(ids, &sp.encode(t, true));
    }
}

/// A `tokenizer.ggml.model = llama` GGUF (written here from the Llama 2 `.model`, as llama.cpp's
/// converter stores it: tokens, scores, token types, special ids) tokenizes like the `.model`.
#[test]
fn llama_gguf_vocabulary_tokenizes_like_the_sentencepiece_model() {
    use lpipe::model::gguf::writer::GgufWriter;
    use lpipe::model::gguf::{GgufArray, GgufValue};
    use lpipe::tokenizer::sentencepiece::model_proto::PieceType;
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let sp =
        SentencePiece::from_file(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let pieces = &sp.proto().pieces;
    let types: Vec<i32> = pieces
        .iter()
        .map(|p| match p.kind {
            PieceType::Normal => 1,
            PieceType::Unknown => 2,
            PieceType::Control => 3,
            PieceType::UserDefined => 4,
            PieceType::Unused => 5,
            PieceType::Byte => 6,
        })
        .collect();
    let build = |add_bos: bool| {
        GgufWriter::new()
            .kv("general.architecture", GgufValue::Str("llama".into()))
            .kv("tokenizer.ggml.model", GgufValue::Str("llama".into()))
            .kv(
                "tokenizer.ggml.tokens",
                GgufValue::Array(GgufArray::Str(
                    pieces.iter().map(|p| p.piece.clone()).collect(),
                )),
            )
            .kv(
                "tokenizer.ggml.scores",
                GgufValue::Array(GgufArray::F32(pieces.iter().map(|p| p.score).collect())),
            )
            .kv(
                "tokenizer.ggml.token_type",
                GgufValue::Array(GgufArray::I32(types.clone())),
            )
            .kv("tokenizer.ggml.bos_token_id", GgufValue::U32(1))
            .kv("tokenizer.ggml.eos_token_id", GgufValue::U32(2))
            .kv("tokenizer.ggml.unknown_token_id", GgufValue::U32(0))
            .kv("tokenizer.ggml.add_bos_token", GgufValue::Bool(add_bos))
            .to_bytes()
    };
    let bytes = build(true);
    let dir = scratch("llama-gguf");
    let path = dir.join("llama2-vocab.gguf");
    std::fs::write(dir.join("no-bos.gguf"), build(false)).unwrap();
    let no_bos = tokenizer::load(&dir.join("no-bos.gguf")).unwrap();
    assert_eq!(no_bos.bos_id(), None);
    assert_eq!(no_bos.encode("Hello world", true), [15043, 3186]);
    std::fs::write(&path, bytes).unwrap();
    let tok = tokenizer::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        (tok.bos_id(), tok.eos_id(), tok.vocab_size()),
        (Some(1), Some(2), 32000)
    );
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tokenizer_reference.json")).unwrap(),
    )
    .unwrap();
    let mut texts: Vec<String> = reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    texts.extend(alpaca_texts(&reference).unwrap_or_default());
    for t in &texts {
        let want = sp.encode(t, true);
        assert_eq!(tok.encode(t, true), want, "{t:?}");
        assert_eq!(tok.decode(&want), sp.decode(&want));
    }
}
