//! The recorded lm-evaluation-harness reference (tests/data/eval_reference/*.json, written by
//! scripts/reference/eval_reference.py) and a check of any [`Scorer`] against it.
//!
//! Each file holds, for the first documents of one task, the prompt, the context and continuation
//! token ids, transformers' summed log-likelihood and greedy flag for every continuation, and the
//! harness's decision. [`compare`] sends the recorded token ids to a scorer and reports how far its
//! answers are from the recorded ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::doc::Scoring;
use super::error::{EvalError, ForeignDiagnostic, Result};
use super::metrics::decide;
use super::request::{LogLikelihood, Request};
use super::scorer::Scorer;

/// One recorded document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReferenceItem {
    /// Index of the document in its split.
    pub doc_index: usize,
    /// The prompt.
    pub context: String,
    /// The continuations (with their delimiter).
    pub continuations: Vec<String>,
    /// Context token ids (`[prefix]` for an empty context).
    pub context_ids: Vec<u32>,
    /// Token ids of each continuation.
    pub continuation_ids: Vec<Vec<u32>>,
    /// transformers' summed log-likelihood of each continuation.
    pub loglikelihoods: Vec<f64>,
    /// transformers' greedy flag of each continuation.
    pub is_greedy: Vec<bool>,
    /// The harness's metric value for the document.
    pub acc: f64,
    /// Correct choice (multiple choice).
    #[serde(default)]
    pub gold: Option<usize>,
    /// The harness's argmax (multiple choice).
    #[serde(default)]
    pub pred: Option<usize>,
    /// MC2 labels (1 = true).
    #[serde(default)]
    pub labels: Option<Vec<u8>>,
}

impl ReferenceItem {
    /// How the document is judged.
    pub fn scoring(&self) -> Scoring {
        match (&self.labels, self.gold) {
            (Some(labels), _) => Scoring::Mc2 {
                labels: labels.iter().map(|l| *l == 1).collect(),
            },
            (None, Some(gold)) => Scoring::MultipleChoice { gold },
            (None, None) => Scoring::Greedy,
        }
    }

    /// The recorded answers, as a scorer would return them.
    pub fn answers(&self) -> Vec<LogLikelihood> {
        self.loglikelihoods
            .iter()
            .zip(&self.is_greedy)
            .map(|(&logprob, &is_greedy)| LogLikelihood { logprob, is_greedy })
            .collect()
    }

    /// The recorded requests (one per continuation, sharing the context).
    pub fn requests(&self) -> Vec<Request> {
        let context: Arc<[u32]> = Arc::from(self.context_ids.clone());
        self.continuation_ids
            .iter()
            .map(|c| Request {
                context: context.clone(),
                continuation: c.clone(),
            })
            .collect()
    }
}

/// One task's recorded reference.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReferenceFile {
    /// lm-evaluation-harness task name.
    pub task: String,
    /// Few-shot examples per context.
    pub num_fewshot: usize,
    /// The token that stood for an empty context.
    pub prefix_token_id: u32,
    /// The recorded documents.
    pub items: Vec<ReferenceItem>,
}

/// The directory of the recorded reference in this repository.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval_reference")
}

/// Reads every `*.json` of `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<ReferenceFile>> {
    let bad = |path: &Path, message: String| EvalError::Results {
        path: path.to_path_buf(),
        message,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| bad(p, e.to_string()))?;
            serde_json::from_str(&text).map_err(|e| bad(p, e.to_string()))
        })
        .collect()
}

/// How a scorer's answers compare with one task's reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The task.
    pub task: String,
    /// Requests scored.
    pub requests: usize,
    /// Largest |ll − reference ll| over the requests.
    pub max_abs_diff: f64,
    /// `(doc, choice)` whose greedy flags differ.
    pub greedy_mismatches: Vec<(usize, usize)>,
    /// Documents whose decision differs: a different argmax or 0/1 accuracy, or an MC2 value more
    /// than `mc2_tolerance` away.
    pub decision_mismatches: Vec<usize>,
}

impl Comparison {
    /// Whether every log-likelihood is within `ll_tolerance` and every flag and decision agrees.
    pub fn agrees(&self, ll_tolerance: f64) -> bool {
        self.max_abs_diff <= ll_tolerance
            && self.greedy_mismatches.is_empty()
            && self.decision_mismatches.is_empty()
    }
}

/// Scores a reference file's recorded requests with `scorer` and compares with the recording.
pub fn compare<S: Scorer>(
    scorer: &mut S,
    file: &ReferenceFile,
    mc2_tolerance: f64,
) -> Result<Comparison> {
    let mut out = Comparison {
        task: file.task.clone(),
        requests: 0,
        max_abs_diff: 0.0,
        greedy_mismatches: Vec::new(),
        decision_mismatches: Vec::new(),
    };
    for item in &file.items {
        let requests = item.requests();
        let answers = scorer
            .loglikelihood(&requests)
            .map_err(|e| EvalError::Scorer {
                task: file.task.clone(),
                message: e.to_string(),
                cause: vec![ForeignDiagnostic(Box::new(e))],
            })?;
        if answers.len() != requests.len() {
            return Err(EvalError::ScorerCount {
                expected: requests.len(),
                got: answers.len(),
            });
        }
        out.requests += requests.len();
        for (k, (ours, theirs)) in answers.iter().zip(item.answers()).enumerate() {
            out.max_abs_diff = out.max_abs_diff.max((ours.logprob - theirs.logprob).abs());
            if ours.is_greedy != theirs.is_greedy {
                out.greedy_mismatches.push((item.doc_index, k));
            }
        }
        let scoring = item.scoring();
        let d = decide(&scoring, &answers);
        let same = match scoring {
            Scoring::Mc2 { .. } => (d.value - item.acc).abs() <= mc2_tolerance,
            _ => d.value == item.acc && (item.pred.is_none() || d.pred == item.pred),
        };
        if !same {
            out.decision_mismatches.push(item.doc_index);
        }
    }
    Ok(out)
}
