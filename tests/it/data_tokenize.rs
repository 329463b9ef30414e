//! Tokenizing templated records: EOS/BOS, truncation, prompt masking, split, stats and the cache.

use lpipe::data::{
    ArithmeticSpec, CacheUse, DataError, DatasetConfig, IGNORE_INDEX, Record, SourceSpec,
    SplitSpec, Template, TokenizeSettings, ValidationSize, encode_record, prepare,
};
use lpipe::tokenizer::Tokenizer;

use crate::support::data::{ByteTokenizer, MERGED, NoEosTokenizer, temp_dir};

fn bytes(text: &str) -> Vec<u32> {
    text.bytes().map(|b| u32::from(b) + 3).collect()
}

fn custom(text: &str) -> Template {
    Template::Custom(lpipe::data::CustomTemplate::new(text, None).unwrap())
}

#[test]
fn prompt_response_eos_and_masked_labels() {
    let settings = TokenizeSettings {
        mask_prompt: true,
        ..Default::default()
    };
    let e = encode_record(
        &ByteTokenizer,
        &custom("Q:{instruction}|{output}"),
        &Record::new("hi", "", "yo"),
        &settings,
    )
    .unwrap();
    let mut want = bytes("Q:hi|yo");
    want.push(2);
    assert_eq!((e.ids.clone(), e.prompt_len, e.full_len), (want, 5, 8));

    let mut ds = lpipe::data::TokenizedDataset::new(true);
    ds.push(&e.ids, e.prompt_len, e.full_len);
    let ex = ds.get(0).unwrap();
    let labels = ex.labels();
    assert_eq!(&labels[..5], &[IGNORE_INDEX; 5]);
    assert_eq!(&labels[5..], &[i64::from(b'y') + 3, i64::from(b'o') + 3, 2]);
    assert_eq!(ex.trained_tokens(), 3);
    assert!(ds.get(1).is_none());
}

#[test]
fn bos_truncation_and_no_eos() {
    let t = custom("{instruction}{output}");
    let r = Record::new("abc", "", "def");
    let settings = TokenizeSettings {
        add_bos: true,
        add_eos: false,
        max_seq_len: Some(5),
        mask_prompt: true,
    };
    let e = encode_record(&ByteTokenizer, &t, &r, &settings).unwrap();
    assert_eq!(e.ids, [vec![1], bytes("abcd")].concat());
    assert_eq!((e.prompt_len, e.full_len), (4, 7));
    // Truncation inside the prompt leaves nothing to train on: prompt_len is clamped to the ids.
    let tiny = TokenizeSettings {
        max_seq_len: Some(2),
        ..settings
    };
    let e = encode_record(&ByteTokenizer, &t, &r, &tiny).unwrap();
    assert_eq!((e.ids.len(), e.prompt_len), (2, 2));
    let err = encode_record(&NoEosTokenizer, &t, &r, &TokenizeSettings::default()).unwrap_err();
    assert!(matches!(err, DataError::NoEos));
}

#[test]
fn prompt_length_stops_where_the_tokenizer_merges_across_the_boundary() {
    // Alpaca prompts end in "\n"; a response starting with "1" merges into one token here.
    let r = Record::new("List.", "", "1. a");
    let e = encode_record(
        &ByteTokenizer,
        &Template::Alpaca,
        &r,
        &TokenizeSettings::default(),
    )
    .unwrap();
    let prompt = ByteTokenizer.encode(&Template::Alpaca.prompt(&r), false);
    assert_eq!(e.prompt_len, prompt.len() - 1);
    assert_eq!(e.ids[e.prompt_len], MERGED);
}

fn arithmetic_config(settings: TokenizeSettings) -> DatasetConfig {
    DatasetConfig {
        source: SourceSpec::Arithmetic(ArithmeticSpec {
            count: 300,
            heldout: 40,
            ..Default::default()
        }),
        template: Template::Alpaca,
        tokenize: settings,
        split: SplitSpec {
            validation: ValidationSize::Count(30),
            seed: 3,
            limit: None,
        },
    }
}

#[test]
fn prepare_splits_reports_stats_and_keeps_heldout_apart() {
    let config = arithmetic_config(TokenizeSettings {
        mask_prompt: true,
        ..Default::default()
    });
    let ds = prepare(&config, &ByteTokenizer, "bytes", None).unwrap();
    assert_eq!(ds.cache, CacheUse::Disabled);
    assert_eq!(
        (
            ds.tokens.len(),
            ds.split.train.len(),
            ds.split.validation.len()
        ),
        (300, 270, 30)
    );
    assert_eq!(ds.heldout.len(), 40);
    assert_eq!(ds.train().count() + ds.validation().count(), 300);
    // Byte-level lengths are prompt bytes + answer bytes + EOS, less one where the prompt's final
    // "\n" merges with an answer starting with "1"; check the statistics against them.
    let records = lpipe::data::load_records(&config.source).unwrap().records;
    let mut lengths: Vec<usize> = records
        .iter()
        .map(|r| {
            Template::Alpaca.prompt(r).len() + r.output.len() + 1
                - usize::from(r.output.starts_with('1'))
        })
        .collect();
    lengths.sort();
    assert_eq!((ds.stats.min, ds.stats.max), (lengths[0], lengths[299]));
    assert_eq!(ds.stats.median, (lengths[149] + lengths[150]) as f64 / 2.0);
    let mean = lengths.iter().sum::<usize>() as f64 / 300.0;
    assert!((ds.stats.mean - mean).abs() < 1e-9);
    let heldout: std::collections::HashSet<_> =
        ds.heldout.iter().map(|r| r.instruction.clone()).collect();
    assert!(records.iter().all(|r| !heldout.contains(&r.instruction)));
    assert!(
        ds.tokens
            .iter()
            .all(|e| e.input_ids.last() == Some(&2) && e.prompt_len < e.input_ids.len())
    );
}

#[test]
fn cache_is_written_reused_keyed_and_rebuilt_when_corrupt() {
    let root = temp_dir("cache");
    let config = arithmetic_config(TokenizeSettings::default());
    let first = prepare(&config, &ByteTokenizer, "bytes", Some(&root)).unwrap();
    let CacheUse::Written(path) = &first.cache else {
        panic!("{:?}", first.cache)
    };
    assert!(path.starts_with(root.join("datasets")));
    let second = prepare(&config, &ByteTokenizer, "bytes", Some(&root)).unwrap();
    assert_eq!(second.cache, CacheUse::Hit(path.clone()));
    assert_eq!(
        (&second.tokens, &second.split, &second.stats),
        (&first.tokens, &first.split, &first.stats)
    );
    assert_eq!(second.heldout, first.heldout);

    // Anything the tokens depend on changes the key.
    let other_settings = arithmetic_config(TokenizeSettings {
        max_seq_len: Some(64),
        ..Default::default()
    });
    let keys = [
        prepare(&other_settings, &ByteTokenizer, "bytes", None)
            .unwrap()
            .key,
        prepare(
            &DatasetConfig {
                template: Template::builtin("chatml").unwrap(),
                ..config.clone()
            },
            &ByteTokenizer,
            "bytes",
            None,
        )
        .unwrap()
        .key,
        prepare(&config, &ByteTokenizer, "other-tokenizer-file", None)
            .unwrap()
            .key,
        prepare(
            &DatasetConfig {
                split: SplitSpec {
                    seed: 4,
                    ..config.split
                },
                ..config.clone()
            },
            &ByteTokenizer,
            "bytes",
            None,
        )
        .unwrap()
        .key,
    ];
    assert!(keys.iter().all(|k| *k != first.key));

    // A damaged file is not trusted: tokenized again and replaced atomically.
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    let third = prepare(&config, &ByteTokenizer, "bytes", Some(&root)).unwrap();
    assert!(
        matches!(&third.cache, CacheUse::Rebuilt(p, _) if p == path),
        "{:?}",
        third.cache
    );
    assert_eq!(third.tokens, first.tokens);
    assert_eq!(
        prepare(&config, &ByteTokenizer, "bytes", Some(&root))
            .unwrap()
            .cache,
        CacheUse::Hit(path.clone())
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.join("datasets")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp files left behind");
}

#[test]
fn file_sources_hash_their_bytes() {
    let root = temp_dir("filecache");
    let path = root.join("mini.jsonl");
    std::fs::write(&path, "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"output\": \"d\"}\n").unwrap();
    let config = DatasetConfig {
        source: SourceSpec::file(&path),
        template: Template::Alpaca,
        tokenize: TokenizeSettings::default(),
        split: SplitSpec {
            validation: ValidationSize::Count(1),
            seed: 0,
            limit: None,
        },
    };
    let a = prepare(&config, &ByteTokenizer, "bytes", Some(&root)).unwrap();
    std::fs::write(&path, "{\"instruction\": \"a\", \"output\": \"B\"}\n{\"instruction\": \"c\", \"output\": \"d\"}\n").unwrap();
    let b = prepare(&config, &ByteTokenizer, "bytes", Some(&root)).unwrap();
    assert_ne!(a.key, b.key);
    assert!(matches!(b.cache, CacheUse::Written(_)));
    std::fs::write(&path, "").unwrap();
    assert!(matches!(
        prepare(&config, &ByteTokenizer, "bytes", None),
        Err(DataError::Empty { .. })
    ));
}
