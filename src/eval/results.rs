//! Evaluation results: `eval.json` (one score per task and group) and `samples.jsonl` (every scored
//! document, as lm-evaluation-harness `--log_samples`), both written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::doc::Scoring;
use super::error::{EvalError, Result};
use super::table::Table;

/// File name of the scores in a run directory.
pub const EVAL_JSON: &str = "eval.json";
/// File name of the per-document records in a run directory.
pub const SAMPLES_JSONL: &str = "samples.jsonl";
/// Version of the `eval.json` layout.
pub const FORMAT_VERSION: u32 = 1;

/// JSON has no NaN: serde_json writes it as `null`, which reads back as NaN here.
fn nan_as_null<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The score of one task or group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// Task or group name.
    pub name: String,
    /// Metric name (`acc`; MC2's `acc` is the true-answer probability mass, as in the harness).
    pub metric: String,
    /// The metric over the scored documents.
    #[serde(deserialize_with = "nan_as_null")]
    pub value: f64,
    /// Its standard error (sample std / sqrt(n); pooled for groups); none below two documents.
    pub stderr: Option<f64>,
    /// Documents scored.
    pub n: usize,
    /// Documents in the split before `limit`.
    pub n_total: usize,
    /// Few-shot examples per context (tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_fewshot: Option<usize>,
    /// Seconds spent on the task (data, tokenization and scoring); for groups, the sum of members.
    pub wall_s: f64,
    /// Forward-pass tokens requested: context + continuation per request (tasks only).
    #[serde(default)]
    pub tokens: usize,
    /// Member names, for groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Whether the group weights members by size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_by_size: Option<bool>,
}

impl TaskScore {
    /// Whether this is a group score.
    pub fn is_group(&self) -> bool {
        !self.members.is_empty()
    }
}

/// The contents of `eval.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// Task scores in run order, then group scores (members before their groups).
    pub scores: Vec<TaskScore>,
    /// `limit` in effect.
    pub limit: Option<usize>,
    /// Subsampling seed in effect.
    pub seed: Option<u64>,
    /// The data directory read.
    pub data_dir: PathBuf,
    /// Seconds for the whole evaluation.
    pub wall_s: f64,
    /// What was evaluated (model path, adapter, …), filled by the caller.
    #[serde(default)]
    pub model: serde_json::Value,
}

/// One scored document, a line of `samples.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// Task name.
    pub task: String,
    /// Document index in its split.
    pub doc_id: usize,
    /// The prompt.
    pub context: String,
    /// The scored continuations.
    pub continuations: Vec<String>,
    /// Context token count (after the BOS/EOS stand-in for an empty context).
    pub context_tokens: usize,
    /// Token count of each continuation.
    pub continuation_tokens: Vec<usize>,
    /// Summed log-likelihood of each continuation.
    pub loglikelihoods: Vec<f64>,
    /// Whether each continuation is the greedy one.
    pub is_greedy: Vec<bool>,
    /// The target: gold index, MC2 labels, or greedy.
    pub target: Scoring,
    /// The chosen continuation, where the scoring picks one.
    pub pred: Option<usize>,
    /// The document's metric value.
    #[serde(deserialize_with = "nan_as_null")]
    pub value: f64,
}

/// Writes `bytes` to `path` atomically ([`crate::io::write_atomic`]) as an eval error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::io::write_atomic(path, bytes).map_err(|source| EvalError::Write {
        path: path.to_path_buf(),
        source,
    })
}

impl EvalReport {
    /// Writes `eval.json` into `run_dir`.
    pub fn write(&self, run_dir: &Path) -> Result<PathBuf> {
        let path = run_dir.join(EVAL_JSON);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| EvalError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        json.push(b'\n');
        write_atomic(&path, &json)?;
        Ok(path)
    }

    /// Reads `eval.json` from `run_dir`.
    pub fn read(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(EVAL_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| EvalError::Results {
            path: path.clone(),
            message: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| EvalError::Results {
            path,
            message: e.to_string(),
        })
    }

    /// The score of a task or group by name.
    pub fn score(&self, name: &str) -> Option<&TaskScore> {
        self.scores.iter().find(|s| s.name == name)
    }

    /// The terminal summary: one row per task, then one per group.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["task", "shots", "metric", "n", "value", "± stderr", "wall"]);
        for s in &self.scores {
            let name = if s.is_group() {
                format!("{} (group)", s.name)
            } else {
                s.name.clone()
            };
            t.rows.push(vec![
                name,
                s.num_fewshot.map(|k| k.to_string()).unwrap_or_default(),
                s.metric.clone(),
                s.n.to_string(),
                format!("{:.4}", s.value),
                s.stderr
                    .map(|e| format!("{e:.4}"))
                    .unwrap_or_else(|| "n/a".into()),
                format!("{:.1}s", s.wall_s),
            ]);
        }
        t
    }
}

/// Writes `samples.jsonl` (one record per line) into `run_dir`.
pub fn write_samples(run_dir: &Path, samples: &[SampleRecord]) -> Result<PathBuf> {
    let path = run_dir.join(SAMPLES_JSONL);
    let mut out = Vec::new();
    for s in samples {
        serde_json::to_writer(&mut out, s).map_err(|e| EvalError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        out.push(b'\n');
    }
    write_atomic(&path, &out)?;
    Ok(path)
}

/// Reads `samples.jsonl` from `run_dir` (a line that does not parse is an error: the file is
/// written atomically, so it is whole or absent).
pub fn read_samples(run_dir: &Path) -> Result<Vec<SampleRecord>> {
    let path = run_dir.join(SAMPLES_JSONL);
    let text = std::fs::read_to_string(&path).map_err(|e| EvalError::Results {
        path: path.clone(),
        message: e.to_string(),
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| EvalError::Results {
                path: path.clone(),
                message: e.to_string(),
            })
        })
        .collect()
}
