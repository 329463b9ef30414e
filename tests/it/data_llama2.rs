//! Acceptance: Alpaca with the Llama 2 SentencePiece tokenizer against the golden files made by
//! Python `sentencepiece` (../shared/golden/llama2_tokenizer/).

use lpipe::data::alpaca::load_file;
use lpipe::data::{
    DatasetConfig, FieldMap, Format, SourceSpec, SplitSpec, Template, TokenizeSettings,
    encode_record, prepare,
};

/// Template prompt + response, no BOS/EOS: the convention of both golden files.
const NO_SPECIALS: TokenizeSettings = TokenizeSettings {
    max_seq_len: None,
    mask_prompt: false,
    add_bos: false,
    add_eos: false,
};

#[test]
fn first_300_records_match_sentencepiece_ids() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let tokenizer =
        lpipe::tokenizer::load(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let records = load_file(
        &shared.join("data/alpaca/alpaca_data.json"),
        Format::Json,
        &FieldMap::default(),
    )
    .unwrap()
    .records;
    let text = std::fs::read_to_string(shared.join("golden/llama2_tokenizer/alpaca_first300.json"))
        .unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let golden = golden["records"].as_array().unwrap();
    assert_eq!(golden.len(), 300);
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    for g in golden {
        let index = g["index"].as_u64().unwrap() as usize;
        let record = &records[index];
        let prompt = tokenizer.encode(&Template::Alpaca.prompt(record), false);
        assert_eq!(
            prompt,
            ids(&g["prompt_ids"]),
            "prompt ids of record {index}"
        );
        let e = encode_record(tokenizer.as_ref(), &Template::Alpaca, record, &NO_SPECIALS).unwrap();
        assert_eq!(e.ids, ids(&g["full_ids"]), "full ids of record {index}");
        assert_eq!(
            e.prompt_len,
            prompt.len(),
            "record {index}: the prompt ends in a newline, so no merge"
        );
    }
}

#[test]
fn alpaca_length_statistics_match_the_reference() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let tokenizer =
        lpipe::tokenizer::load(&shared.join("data/llama2_tokenizer/tokenizer.model")).unwrap();
    let config = DatasetConfig {
        source: SourceSpec::file(shared.join("data/alpaca/alpaca_data.json")),
        template: Template::Alpaca,
        tokenize: NO_SPECIALS,
        split: SplitSpec::default(),
    };
    let ds = prepare(&config, tokenizer.as_ref(), "llama2-tokenizer.model", None).unwrap();
    let text =
        std::fs::read_to_string(shared.join("golden/llama2_tokenizer/alpaca_length_stats.json"))
            .unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = ds.stats;
    assert_eq!(s.count, 52002);
    // Lengths are integers, so median/min/max are exact; the mean is a sum of 52,002 integers
    // divided once, so f64 reproduces Python's value to rounding (1e-12 relative).
    assert_eq!(s.median, golden["median"].as_f64().unwrap());
    assert_eq!(s.median, 110.0);
    assert_eq!(s.min as u64, golden["min"].as_u64().unwrap());
    assert_eq!(s.max as u64, golden["max"].as_u64().unwrap());
    let mean = golden["mean"].as_f64().unwrap();
    assert!(
        (s.mean - mean).abs() <= 1e-12 * mean,
        "{} vs {mean}",
        s.mean
    );
}
