//! lpipe's task definitions and metrics against the lm-evaluation-harness reference recorded by
//! scripts/reference/eval_reference.py (transformers on the SmolLM2 GGUF) in tests/data/eval_reference.

use std::path::{Path, PathBuf};

use lpipe::eval::runner::run_task;
use lpipe::eval::{
    EvalOptions, LogLikelihood, Request, Scorer, Scoring, TaskSpec, metrics::decide, resolve,
};
use lpipe::tokenizer::Tokenizer;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Fixture {
    task: String,
    num_fewshot: usize,
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // token ids are read by the tokenizer and model tests
struct Item {
    doc_index: usize,
    context: String,
    continuations: Vec<String>,
    context_ids: Vec<u32>,
    continuation_ids: Vec<Vec<u32>>,
    loglikelihoods: Vec<f64>,
    is_greedy: Vec<bool>,
    acc: f64,
    #[serde(default)]
    gold: Option<usize>,
    #[serde(default)]
    pred: Option<usize>,
    #[serde(default)]
    labels: Option<Vec<u8>>,
}

impl Item {
    fn scoring(&self) -> Scoring {
        match (&self.labels, self.gold) {
            (Some(labels), _) => Scoring::Mc2 {
                labels: labels.iter().map(|l| *l == 1).collect(),
            },
            (None, Some(gold)) => Scoring::MultipleChoice { gold },
            (None, None) => Scoring::Greedy,
        }
    }

    fn answers(&self) -> Vec<LogLikelihood> {
        self.loglikelihoods
            .iter()
            .zip(&self.is_greedy)
            .map(|(&logprob, &is_greedy)| LogLikelihood { logprob, is_greedy })
            .collect()
    }
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval_reference");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/eval_reference exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let fixtures: Vec<Fixture> = paths
        .iter()
        .map(|p| {
            serde_json::from_str(&std::fs::read_to_string(p).expect("readable"))
                .expect("valid fixture")
        })
        .collect();
    // The acceptance list: both TruthfulQA tasks, 2ds and 4ds, MMLU global_facts, 5 BLiMP paradigms.
    assert_eq!(fixtures.len(), 10, "{paths:?}");
    for f in &fixtures {
        assert!(
            f.items.len() >= 20,
            "{} has {} items",
            f.task,
            f.items.len()
        );
    }
    fixtures
}

fn data_dir() -> Option<PathBuf> {
    match lpipe::cache::shared_dir() {
        Some(dir) => Some(dir.join("data")),
        None => {
            println!("skipped: ../shared/data not found");
            None
        }
    }
}

#[test]
fn metric_decisions_match_the_reference() {
    for f in fixtures() {
        for item in &f.items {
            let d = decide(&item.scoring(), &item.answers());
            // MC2 sums exp(ll) in a different order and relative to the largest ll; both are f64
            // sums of at most ~15 terms in [0, 1], so they agree to a few ulps.
            assert!(
                (d.value - item.acc).abs() < 1e-12,
                "{} doc {}: {} vs {}",
                f.task,
                item.doc_index,
                d.value,
                item.acc
            );
            if let Some(pred) = item.pred {
                assert_eq!(d.pred, Some(pred), "{} doc {}", f.task, item.doc_index);
            }
        }
    }
}

#[test]
fn prompts_match_the_reference() {
    let Some(data) = data_dir() else { return };
    for f in fixtures() {
        let spec = TaskSpec {
            name: f.task.clone(),
            subset: None,
            num_fewshot: Some(f.num_fewshot),
        };
        let plan = resolve(&[spec]).expect("known task");
        assert_eq!(plan.tasks.len(), 1);
        let docs = plan.tasks[0].docs(&data).expect("task data");
        for item in &f.items {
            let doc = &docs[item.doc_index];
            assert_eq!(
                doc.context, item.context,
                "{} doc {}",
                f.task, item.doc_index
            );
            assert_eq!(
                doc.continuations, item.continuations,
                "{} doc {}",
                f.task, item.doc_index
            );
            assert_eq!(
                doc.scoring,
                item.scoring(),
                "{} doc {}",
                f.task,
                item.doc_index
            );
        }
    }
}

/// One id per character: the replayed answers do not depend on token ids.
struct Chars;
impl Tokenizer for Chars {
    fn encode(&self, text: &str, _add_bos: bool) -> Vec<u32> {
        text.chars().map(u32::from).collect()
    }
    fn decode(&self, ids: &[u32]) -> String {
        ids.iter().filter_map(|&i| char::from_u32(i)).collect()
    }
    fn bos_id(&self) -> Option<u32> {
        Some(1)
    }
    fn eos_id(&self) -> Option<u32> {
        Some(2)
    }
    fn vocab_size(&self) -> usize {
        0x11_0000
    }
}

/// Answers requests with the recorded log-likelihoods, in document and continuation order.
struct Replay {
    answers: std::vec::IntoIter<LogLikelihood>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the replay ran out of recorded answers")]
struct Exhausted;

impl Scorer for Replay {
    type Error = Exhausted;
    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, Exhausted> {
        requests
            .iter()
            .map(|_| self.answers.next().ok_or(Exhausted))
            .collect()
    }
}

#[test]
fn runner_reproduces_the_reference_decisions() {
    let Some(data) = data_dir() else { return };
    for f in fixtures() {
        // The fixtures hold the first documents of each task, which is what `limit` without a seed scores.
        assert!(f.items.iter().enumerate().all(|(i, it)| it.doc_index == i));
        let spec = TaskSpec {
            name: f.task.clone(),
            subset: None,
            num_fewshot: Some(f.num_fewshot),
        };
        let task = resolve(&[spec]).expect("known task").tasks.remove(0);
        let mut opts = EvalOptions::new(&data);
        opts.limit = Some(f.items.len());
        opts.docs_per_call = 7; // not a divisor of 20: the last call is partial
        let mut replay = Replay {
            answers: f
                .items
                .iter()
                .flat_map(Item::answers)
                .collect::<Vec<_>>()
                .into_iter(),
        };
        let (score, records) =
            run_task(&mut replay, &Chars, &task, &opts, &mut |_, _| {}).expect("task runs");
        assert_eq!(records.len(), f.items.len());
        for (r, item) in records.iter().zip(&f.items) {
            assert!(
                (r.value - item.acc).abs() < 1e-12,
                "{} doc {}",
                f.task,
                item.doc_index
            );
            assert_eq!(r.loglikelihoods, item.loglikelihoods);
        }
        let mean = f.items.iter().map(|i| i.acc).sum::<f64>() / f.items.len() as f64;
        assert!((score.value - mean).abs() < 1e-12, "{}", f.task);
        assert_eq!(score.n, f.items.len());
    }
}
