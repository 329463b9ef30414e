//! Runs a [`Plan`]: builds each task's prompts, tokenizes them, has the [`Scorer`] score them in
//! batches of documents, judges every document and aggregates tasks and groups.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::doc::Doc;
use super::error::{EvalError, ForeignDiagnostic, Result};
use super::metrics::{Part, decide, group_value, mean, mean_stderr, pooled_stderr};
use super::registry::Plan;
use super::request::{Request, encode_doc};
use super::results::{EvalReport, FORMAT_VERSION, SampleRecord, TaskScore, write_samples};
use super::sample::select;
use super::scorer::Scorer;
use super::tasks::Task;
use crate::tokenizer::Tokenizer;

/// How to run the tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOptions {
    /// Root of the data layout (`../shared/data`).
    pub data_dir: PathBuf,
    /// Score at most this many documents per task.
    pub limit: Option<usize>,
    /// With `limit`: sample documents with this seed instead of taking the first ones.
    pub seed: Option<u64>,
    /// Documents per `Scorer::loglikelihood` call (progress is reported after each).
    pub docs_per_call: usize,
    /// The token standing for an empty context: lm-evaluation-harness's `prefix_token_id`, the
    /// model's BOS token even when its tokenizer does not prepend it (see
    /// [`super::prefix::gguf_prefix_token`]); `None` falls back to the tokenizer's BOS, else EOS.
    pub prefix_token: Option<u32>,
}

impl EvalOptions {
    /// All documents of every task, 32 documents per scorer call.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EvalOptions {
            data_dir: data_dir.into(),
            limit: None,
            seed: None,
            docs_per_call: 32,
            prefix_token: None,
        }
    }
}

/// Where the run is, reported after every scorer call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// The task being scored.
    pub task: &'a str,
    /// Its position among the tasks (0-based) and their number.
    pub task_index: usize,
    /// Number of tasks.
    pub task_count: usize,
    /// Documents of this task scored so far.
    pub docs_done: usize,
    /// Documents of this task to score.
    pub docs_total: usize,
}

/// Scores and per-document records of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutput {
    /// What `eval.json` holds.
    pub report: EvalReport,
    /// What `samples.jsonl` holds.
    pub samples: Vec<SampleRecord>,
}

impl EvalOutput {
    /// Writes `eval.json` and `samples.jsonl` into `run_dir` (each atomically).
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        write_samples(run_dir, &self.samples)?;
        self.report.write(run_dir)?;
        Ok(())
    }
}

/// Runs every task of `plan` on `scorer`, then scores the groups.
pub fn evaluate<S: Scorer>(
    scorer: &mut S,
    tokenizer: &dyn Tokenizer,
    plan: &Plan,
    opts: &EvalOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<EvalOutput> {
    let start = Instant::now();
    let mut scores = Vec::new();
    let mut samples = Vec::new();
    for (task_index, task) in plan.tasks.iter().enumerate() {
        let (score, mut records) = run_task(
            scorer,
            tokenizer,
            task,
            opts,
            &mut |docs_done, docs_total| {
                progress(&Progress {
                    task: &task.name,
                    task_index,
                    task_count: plan.tasks.len(),
                    docs_done,
                    docs_total,
                })
            },
        )?;
        scores.push(score);
        samples.append(&mut records);
    }
    score_groups(plan, &mut scores);
    let report = EvalReport {
        format: FORMAT_VERSION,
        scores,
        limit: opts.limit,
        seed: opts.seed,
        data_dir: opts.data_dir.clone(),
        wall_s: start.elapsed().as_secs_f64(),
        model: serde_json::Value::Null,
    };
    Ok(EvalOutput { report, samples })
}

/// The requests of a batch of documents, with where each document's requests start.
pub fn build_requests(
    tokenizer: &dyn Tokenizer,
    prefix_token: Option<u32>,
    task: &str,
    docs: &[Doc],
) -> Result<(Vec<Request>, Vec<usize>)> {
    let mut requests = Vec::new();
    let mut starts = Vec::with_capacity(docs.len());
    for doc in docs {
        let prefix = if doc.context.is_empty() {
            prefix_token
                .or(tokenizer.bos_id())
                .or(tokenizer.eos_id())
                .ok_or_else(|| EvalError::NoPrefixToken { task: task.into() })?
        } else {
            0
        };
        let (context, continuations) =
            encode_doc(tokenizer, prefix, &doc.context, &doc.continuations);
        starts.push(requests.len());
        for (ids, text) in continuations.into_iter().zip(&doc.continuations) {
            if ids.is_empty() {
                return Err(EvalError::EmptyContinuation {
                    task: task.into(),
                    doc: doc.id,
                    continuation: text.clone(),
                });
            }
            requests.push(Request {
                context: context.clone(),
                continuation: ids,
            });
        }
    }
    Ok((requests, starts))
}

/// Scores one task's documents and aggregates them.
pub fn run_task<S: Scorer>(
    scorer: &mut S,
    tokenizer: &dyn Tokenizer,
    task: &Task,
    opts: &EvalOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(TaskScore, Vec<SampleRecord>)> {
    let start = Instant::now();
    let all = task.docs(&opts.data_dir)?;
    let n_total = all.len();
    let docs = select(&task.name, all, opts.limit, opts.seed);
    if docs.is_empty() {
        return Err(EvalError::NoDocuments {
            task: task.name.clone(),
        });
    }
    let mut records = Vec::with_capacity(docs.len());
    let mut tokens = 0;
    progress(0, docs.len());
    for chunk in docs.chunks(opts.docs_per_call.max(1)) {
        let (requests, starts) = build_requests(tokenizer, opts.prefix_token, &task.name, chunk)?;
        tokens += requests
            .iter()
            .map(|r| r.context.len() + r.continuation.len())
            .sum::<usize>();
        let answers = scorer
            .loglikelihood(&requests)
            .map_err(|e| EvalError::Scorer {
                task: task.name.clone(),
                message: e.to_string(),
                cause: vec![ForeignDiagnostic(Box::new(e))],
            })?;
        if answers.len() != requests.len() {
            return Err(EvalError::ScorerCount {
                expected: requests.len(),
                got: answers.len(),
            });
        }
        for (d, doc) in chunk.iter().enumerate() {
            let from = starts[d];
            let to = starts.get(d + 1).copied().unwrap_or(requests.len());
            let (reqs, ans) = (&requests[from..to], &answers[from..to]);
            let decision = decide(&doc.scoring, ans);
            records.push(SampleRecord {
                task: task.name.clone(),
                doc_id: doc.id,
                context: doc.context.clone(),
                continuations: doc.continuations.clone(),
                context_tokens: reqs.first().map_or(0, |r| r.context.len()),
                continuation_tokens: reqs.iter().map(|r| r.continuation.len()).collect(),
                loglikelihoods: ans.iter().map(|a| a.logprob).collect(),
                is_greedy: ans.iter().map(|a| a.is_greedy).collect(),
                target: doc.scoring.clone(),
                pred: decision.pred,
                value: decision.value,
            });
        }
        progress(records.len(), docs.len());
    }
    let values: Vec<f64> = records.iter().map(|r| r.value).collect();
    let score = TaskScore {
        name: task.name.clone(),
        metric: "acc".into(),
        value: mean(&values),
        stderr: mean_stderr(&values),
        n: values.len(),
        n_total,
        num_fewshot: Some(task.num_fewshot),
        wall_s: start.elapsed().as_secs_f64(),
        tokens,
        members: Vec::new(),
        weight_by_size: None,
    };
    Ok((score, records))
}

/// Appends a score for every group of `plan`, from the scores already in `scores`.
pub fn score_groups(plan: &Plan, scores: &mut Vec<TaskScore>) {
    let mut by_name: HashMap<String, TaskScore> =
        scores.iter().map(|s| (s.name.clone(), s.clone())).collect();
    for group in &plan.groups {
        let members: Vec<&TaskScore> = group
            .members
            .iter()
            .filter_map(|m| by_name.get(m))
            .collect();
        if members.is_empty() {
            continue;
        }
        let parts: Vec<Part> = members
            .iter()
            .map(|s| Part {
                value: s.value,
                stderr: s.stderr,
                n: s.n,
            })
            .collect();
        let score = TaskScore {
            name: group.name.clone(),
            metric: "acc".into(),
            value: group_value(&parts, group.weight_by_size),
            stderr: pooled_stderr(&parts),
            n: parts.iter().map(|p| p.n).sum(),
            n_total: members.iter().map(|s| s.n_total).sum(),
            num_fewshot: None,
            wall_s: members.iter().map(|s| s.wall_s).sum(),
            tokens: members.iter().map(|s| s.tokens).sum(),
            members: group.members.clone(),
            weight_by_size: Some(group.weight_by_size),
        };
        by_name.insert(score.name.clone(), score.clone());
        scores.push(score);
    }
}
