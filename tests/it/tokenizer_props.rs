//! Properties over random text: encoding never panics and decoding gives the text back
//! (SentencePiece with an identity normalizer; byte-level BPE), and `encode_batch` = `encode`.

use std::path::PathBuf;
use std::sync::OnceLock;

use lpipe::tokenizer::{self, SentencePiece, Tokenizer};
use proptest::prelude::*;

fn llama2() -> Option<&'static SentencePiece> {
    static TOK: OnceLock<Option<SentencePiece>> = OnceLock::new();
    TOK.get_or_init(|| {
        let shared = lpipe::testing::shared()?;
        let path = shared.join("data/llama2_tokenizer/tokenizer.model");
        Some(SentencePiece::from_file(&path).unwrap())
    })
    .as_ref()
}

fn smollm2() -> Option<&'static dyn Tokenizer> {
    static TOK: OnceLock<Option<Box<dyn Tokenizer>>> = OnceLock::new();
    TOK.get_or_init(|| Some(tokenizer::load(&lpipe::testing::smollm2()?).unwrap()))
        .as_deref()
}

fn tiny_suffix() -> &'static SentencePiece {
    static TOK: OnceLock<SentencePiece> = OnceLock::new();
    TOK.get_or_init(|| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sp_tiny_suffix.model");
        SentencePiece::from_file(&path).unwrap()
    })
}

/// Text mixing ASCII, whitespace runs, digits, Latin-1, CJK, emoji and combining marks; `▁`
/// itself is left out (it decodes to a space by design).
fn text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z]{1,8}",
        "[ \t\n\r]{1,4}",
        "[0-9]{1,5}",
        "[!-/:-@'\"]{1,3}",
        "[à-ÿ]{1,3}",
        "[\u{4e00}-\u{4e40}]{1,3}",
        "[\u{1f600}-\u{1f640}]{1,2}",
        "[\u{300}-\u{36f}]",
        any::<char>()
            .prop_filter("no ▁", |c| *c != '\u{2581}')
            .prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

/// Bytes without a token are dropped, as HF `tokenizers` does (ids from tokenizers 0.23.3).
#[test]
fn byte_level_drops_bytes_missing_from_the_vocabulary() {
    let Some(tok) = smollm2() else { return };
    assert_eq!(tok.encode("\u{40000}", false), [218, 218, 218]);
    assert_eq!(tok.encode("a\u{40000}b", false), [81, 218, 218, 218, 82]);
    assert_eq!(tok.encode("\u{1F600}", false), [10813, 242, 218]);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sentencepiece_round_trips(s in text()) {
        let Some(sp) = llama2() else { return Ok(()) };
        let ids = sp.encode(&s, false);
        prop_assert_eq!(sp.decode(&ids), s.clone());
        prop_assert!(ids.iter().all(|&i| (i as usize) < sp.vocab_size()));
        prop_assert_eq!(sp.encode(&s, true).first().copied(), Some(1));
    }

    /// SmolLM2's vocabulary lacks 21 of the 256 byte symbols (six ASCII controls, and lead bytes
    /// such as 0xF1/0xF2 of planes 4–11); HF `tokenizers` drops those bytes, and so does lpipe
    /// (pinned below), so the round trip holds for text avoiding them.
    #[test]
    fn byte_level_round_trips(s in text()) {
        let Some(tok) = smollm2() else { return Ok(()) };
        let ids = tok.encode(&s, false);
        let covered = s.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            && s.chars().all(|c| !(0x40000..0xC0000).contains(&(c as u32)));
        if covered {
            prop_assert_eq!(tok.decode(&ids), s);
        }
    }

    #[test]
    fn suffix_model_with_byte_fallback_round_trips(s in text()) {
        let sp = tiny_suffix();
        let ids = sp.encode(&s, false);
        // Suffix mode appends one `▁` to non-empty input, which decoding keeps; a leading `▁` of
        // the first piece is dropped (sentencepiece 0.2, see the fixture cases).
        let mut want = if s.is_empty() { String::new() } else { format!("{s} ") };
        if want.starts_with(' ') {
            want.remove(0);
        }
        prop_assert_eq!(sp.decode(&ids), want);
        prop_assert!(!ids.is_empty() || s.is_empty());
    }

    #[test]
    fn batch_equals_single(v in prop::collection::vec(text(), 0..40)) {
        let Some(sp) = llama2() else { return Ok(()) };
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let single: Vec<Vec<u32>> = refs.iter().map(|t| sp.encode(t, true)).collect();
        prop_assert_eq!(sp.encode_batch(&refs, true), single);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Damaged `.model` files (random byte flips and truncation of a real model) give a
    /// diagnostic or a working tokenizer, never a panic.
    #[test]
    fn damaged_models_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        text in text(),
    ) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sp_tiny_unigram.model");
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(sp) = SentencePiece::from_bytes(&bytes, &path) {
            let ids = sp.encode(&text, true);
            let _ = sp.decode(&ids);
        }
    }

    /// Arbitrary JSON-ish text as `tokenizer.json`: a diagnostic or a tokenizer, never a panic.
    #[test]
    fn arbitrary_tokenizer_json_never_panics(s in "\\{\"model\": \\{\"type\": \"BPE\", \"vocab\": \\{(\"[a-c]{1,2}\": [0-9], ){0,4}\"d\": 9\\}, \"merges\": \\[(\"[a-d]{1,2} [a-d]{1,2}\", ){0,3}\"a b\"\\]\\}\\}", text in text()) {
        if let Ok(tok) = lpipe::tokenizer::hf_json::from_str(&s) {
            let ids = tok.encode(&text, true);
            let _ = tok.decode(&ids);
        }
    }
}
