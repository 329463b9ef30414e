//! Request construction with the SmolLM2 GGUF tokenizer gives the token ids lm-evaluation-harness
//! gives (recorded by scripts/reference/eval_reference.py in tests/data/eval_reference).

use std::path::Path;

use lpipe::eval::{TaskSpec, encode_doc, encode_pair, gguf_prefix_token, resolve};
use lpipe::model::gguf::GgufFile;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    task: String,
    num_fewshot: usize,
    prefix_token_id: u32,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    doc_index: usize,
    context: String,
    continuations: Vec<String>,
    context_ids: Vec<u32>,
    continuation_ids: Vec<Vec<u32>>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval_reference");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("parse"))
        .collect()
}

#[test]
fn requests_have_the_reference_token_ids() {
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let tok = lpipe::tokenizer::load(&gguf).expect("GGUF tokenizer");
    let prefix = gguf_prefix_token(&GgufFile::open(&gguf).expect("GGUF header"));
    let fixtures = fixtures();
    assert_eq!(fixtures.len(), 10);
    for f in &fixtures {
        // lm-evaluation-harness's prefix_token_id: the tokenizer's BOS (1, <|im_start|>), else EOS.
        assert_eq!(prefix, Some(f.prefix_token_id), "{}", f.task);
        for item in &f.items {
            let (ctx, conts) =
                encode_doc(&*tok, f.prefix_token_id, &item.context, &item.continuations);
            assert_eq!(
                &*ctx,
                item.context_ids.as_slice(),
                "{} doc {} context",
                f.task,
                item.doc_index
            );
            assert_eq!(
                conts, item.continuation_ids,
                "{} doc {} continuations",
                f.task, item.doc_index
            );
            let (c0, k0) = encode_pair(
                &*tok,
                f.prefix_token_id,
                &item.context,
                &item.continuations[0],
            );
            assert_eq!((c0.as_slice(), &k0), (&*ctx, &conts[0]));
        }
    }
}

/// The whole path from data files to ids: the runner's requests for the first documents.
#[test]
fn runner_requests_from_the_data_have_the_reference_token_ids() {
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let tok = lpipe::tokenizer::load(&gguf).expect("GGUF tokenizer");
    let prefix = gguf_prefix_token(&GgufFile::open(&gguf).expect("GGUF header"));
    for f in fixtures() {
        let spec = TaskSpec {
            name: f.task.clone(),
            subset: None,
            num_fewshot: Some(f.num_fewshot),
        };
        let task = resolve(&[spec]).expect("task").tasks.remove(0);
        let docs = task.docs(&shared.join("data")).expect("docs");
        let first: Vec<_> = docs.into_iter().take(f.items.len()).collect();
        let (requests, starts) =
            lpipe::eval::runner::build_requests(&*tok, prefix, &f.task, &first).expect("requests");
        for (d, item) in f.items.iter().enumerate() {
            let start = starts[d];
            for (k, ids) in item.continuation_ids.iter().enumerate() {
                let r = &requests[start + k];
                assert_eq!(
                    &*r.context,
                    item.context_ids.as_slice(),
                    "{} doc {}",
                    f.task,
                    d
                );
                assert_eq!(&r.continuation, ids, "{} doc {} choice {k}", f.task, d);
            }
        }
    }
}
