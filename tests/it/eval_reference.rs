//! lpipe's task definitions and metrics against the lm-evaluation-harness reference recorded by
//! scripts/reference/eval_reference.py (transformers on the SmolLM2 GGUF) in tests/data/eval_reference.

use std::collections::HashMap;
use std::path::PathBuf;

use lpipe::eval::reference::{ReferenceFile, compare, default_dir, load_dir};
use lpipe::eval::runner::run_task;
use lpipe::eval::{
    EvalOptions, LogLikelihood, Request, Scorer, TaskSpec, metrics::decide, resolve,
};
use lpipe::tokenizer::Tokenizer;

fn fixtures() -> Vec<ReferenceFile> {
    let files = load_dir(&default_dir()).expect("reference files");
    // The acceptance list: both TruthfulQA tasks, 2ds and 4ds, MMLU global_facts, 5 BLiMP paradigms.
    assert_eq!(files.len(), 10);
    for f in &files {
        assert!(
            f.items.len() >= 20,
            "{} has {} items",
            f.task,
            f.items.len()
        );
    }
    files
}

fn data_dir() -> Option<PathBuf> {
    lpipe::testing::shared().map(|dir| dir.join("data"))
}

#[test]
fn metric_decisions_match_the_reference() {
    for f in fixtures() {
        for item in &f.items {
            let d = decide(&item.scoring(), &item.answers());
            // MC2 sums exp(ll) in another order and relative to the largest ll; both are f64 sums of
            // at most ~15 terms in [0, 1], so they agree to a few ulps.
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

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the replay has no recorded answer for a request")]
struct Unknown;

/// Answers requests in order from a queue of recorded answers.
struct Sequential(std::vec::IntoIter<LogLikelihood>);

impl Scorer for Sequential {
    type Error = Unknown;
    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, Unknown> {
        requests
            .iter()
            .map(|_| self.0.next().ok_or(Unknown))
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
        let answers: Vec<LogLikelihood> = f.items.iter().flat_map(|i| i.answers()).collect();
        let mut replay = Sequential(answers.into_iter());
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

/// Answers by token ids from the recording, shifted by `offset` for one chosen request.
struct ById {
    answers: HashMap<(Vec<u32>, Vec<u32>), LogLikelihood>,
    shift: Option<(Vec<u32>, f64)>,
}

impl Scorer for ById {
    type Error = Unknown;
    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, Unknown> {
        requests
            .iter()
            .map(|r| {
                let mut a = *self
                    .answers
                    .get(&(r.context.to_vec(), r.continuation.clone()))
                    .ok_or(Unknown)?;
                if let Some((cont, d)) = &self.shift
                    && *cont == r.continuation
                {
                    a.logprob += d;
                }
                Ok(a)
            })
            .collect()
    }
}

/// `reference::compare`, which the model's test runs on the Burn scorer, accepts the recording and
/// flags a log-likelihood moved by more than the tolerance and the decision it flips.
#[test]
fn compare_accepts_the_recording_and_catches_a_shift() {
    for f in fixtures() {
        let answers: HashMap<_, _> = f
            .items
            .iter()
            .flat_map(|i| {
                let answers = i.answers();
                i.continuation_ids
                    .iter()
                    .zip(answers)
                    .map(|(c, a)| ((i.context_ids.clone(), c.clone()), a))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut exact = ById {
            answers: answers.clone(),
            shift: None,
        };
        let c = compare(&mut exact, &f, 1e-3).expect("compares");
        assert!(c.agrees(0.0), "{c:?}");
        assert_eq!(
            c.requests,
            f.items.iter().map(|i| i.continuations.len()).sum::<usize>()
        );
        // Move the gold choice of a multiple-choice item above every other choice: a flipped decision.
        let Some(item) = f.items.iter().find(|i| i.gold.is_some() && i.acc == 0.0) else {
            continue;
        };
        let gold = item.gold.expect("gold");
        let best = item
            .loglikelihoods
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let lift = best - item.loglikelihoods[gold] + 1.0;
        let mut shifted = ById {
            answers,
            shift: Some((item.continuation_ids[gold].clone(), lift)),
        };
        let c = compare(&mut shifted, &f, 1e-3).expect("compares");
        assert!(
            !c.agrees(1e-3) && c.decision_mismatches.contains(&item.doc_index),
            "{c:?}"
        );
    }
}
