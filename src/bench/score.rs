//! `lpipe bench score`: log-likelihood scoring throughput of a [`Scorer`] next to transformers,
//! on the same requests (real task prompts), in the same run, on the same machine.
//!
//! Throughput is request tokens (context + continuation of every request) per second of scoring, for
//! both sides, so an implementation that runs a shared context once shows it as a higher ratio. The
//! reference (scripts/reference/score.py) does what lm-evaluation-harness's HFLM does: one forward
//! pass per request, shared only when two requests have the same input. The bench also reports the
//! largest log-likelihood difference and the greedy-flag disagreements, so speed never hides a wrong answer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Deserialize;

use crate::eval::error::{EvalError, Result};
use crate::eval::registry::{TaskSpec, resolve};
use crate::eval::request::Request;
use crate::eval::runner::build_requests;
use crate::eval::sample::select;
use crate::eval::scorer::Scorer;
use crate::eval::table::Table;
use crate::tokenizer::Tokenizer;

/// Command-line options of `lpipe bench score`.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Model to score with (defaults to the cached SmolLM2-135M-Instruct GGUF).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Task data directory (defaults to ../shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Threads for the transformers reference (PyTorch `set_num_threads`).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Device for lpipe.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Root of the task data.
    pub data_dir: PathBuf,
    /// The GGUF the reference loads (the same model the scorer runs).
    pub model: PathBuf,
    /// Python with torch and transformers (`$LPIPE_PYTHON`, else `python3`).
    pub python: PathBuf,
    /// scripts/reference/score.py.
    pub script: PathBuf,
    /// Threads for the reference (the machine's cores by default).
    pub threads: usize,
    /// Tasks and how many documents of each to score.
    pub tasks: Vec<(String, usize)>,
    /// The empty-context token ([`crate::eval::EvalOptions::prefix_token`]).
    pub prefix_token: Option<u32>,
}

impl Config {
    /// Defaults: a mix of short (BLiMP, arithmetic), medium (TruthfulQA) and long (MMLU 5-shot) contexts.
    pub fn new(data_dir: impl Into<PathBuf>, model: impl Into<PathBuf>) -> Self {
        let python = std::env::var_os("LPIPE_PYTHON")
            .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            data_dir: data_dir.into(),
            model: model.into(),
            python,
            script: Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/score.py"),
            threads,
            tasks: vec![
                ("blimp_adjunct_island".into(), 16),
                ("arithmetic_2ds".into(), 16),
                ("truthfulqa_mc1".into(), 8),
                ("mmlu_global_facts".into(), 4),
            ],
            prefix_token: None,
        }
    }
}

/// The measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Requests scored.
    pub requests: usize,
    /// Request tokens (context + continuation, summed over requests).
    pub tokens: usize,
    /// Seconds lpipe's scorer took.
    pub lpipe_s: f64,
    /// Seconds transformers took.
    pub reference_s: f64,
    /// Forward passes the reference ran.
    pub reference_passes: usize,
    /// Largest |ll(lpipe) − ll(transformers)|.
    pub max_abs_diff: f64,
    /// Requests whose greedy flags disagree.
    pub greedy_mismatches: usize,
    /// Reference threads and versions, for the table's caption.
    pub reference_label: String,
}

impl Outcome {
    /// The printed table: one row per implementation, throughput and the ratio to transformers.
    pub fn table(&self) -> Table {
        let tps = |s: f64| self.tokens as f64 / s;
        let mut t = Table::new([
            "scorer",
            "requests",
            "tokens",
            "seconds",
            "tokens/s",
            "vs transformers",
        ]);
        t.rows.push(vec![
            "lpipe".into(),
            self.requests.to_string(),
            self.tokens.to_string(),
            format!("{:.2}", self.lpipe_s),
            format!("{:.0}", tps(self.lpipe_s)),
            format!("{:.2}x", self.reference_s / self.lpipe_s),
        ]);
        t.rows.push(vec![
            self.reference_label.clone(),
            self.requests.to_string(),
            self.tokens.to_string(),
            format!("{:.2}", self.reference_s),
            format!("{:.0}", tps(self.reference_s)),
            "1.00x".into(),
        ]);
        t
    }
}

#[derive(Deserialize)]
struct ReferenceOutput {
    seconds: f64,
    tokens: usize,
    forward_passes: usize,
    loglikelihoods: Vec<f64>,
    is_greedy: Vec<bool>,
    threads: usize,
    versions: serde_json::Value,
}

/// The benchmark's requests: the first documents of each configured task, encoded as the runner does.
pub fn requests(tokenizer: &dyn Tokenizer, cfg: &Config) -> Result<Vec<Request>> {
    let mut out = Vec::new();
    for (name, n) in &cfg.tasks {
        let plan = resolve(&[TaskSpec::named(name)])?;
        for task in &plan.tasks {
            let docs = select(&task.name, task.docs(&cfg.data_dir)?, Some(*n), None);
            out.extend(build_requests(tokenizer, cfg.prefix_token, &task.name, &docs)?.0);
        }
    }
    Ok(out)
}

fn reference(requests: &[Request], cfg: &Config) -> Result<ReferenceOutput> {
    let fail = |message: String| EvalError::Reference { message };
    let body: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::json!({"context": &*r.context, "continuation": r.continuation}))
        .collect();
    let file = std::env::temp_dir().join(format!("lpipe-bench-score-{}.json", std::process::id()));
    let json = serde_json::to_vec(&serde_json::json!({ "requests": body }))
        .map_err(|e| fail(e.to_string()))?;
    std::fs::write(&file, json).map_err(|e| fail(format!("{}: {e}", file.display())))?;
    let output = Command::new(&cfg.python)
        .arg(&cfg.script)
        .arg(&file)
        .arg("--model")
        .arg(&cfg.model)
        .arg("--threads")
        .arg(cfg.threads.to_string())
        .output();
    let _ = std::fs::remove_file(&file);
    let output = output.map_err(|e| fail(format!("{}: {e}", cfg.python.display())))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(fail(format!(
            "{} exited with {}: {last} {tail}",
            cfg.script.display(),
            output.status
        )));
    }
    let out: ReferenceOutput =
        serde_json::from_str(last).map_err(|e| fail(format!("unreadable output ({e}): {last}")))?;
    if out.loglikelihoods.len() != requests.len() || out.is_greedy.len() != requests.len() {
        return Err(fail(format!(
            "{} answers for {} requests",
            out.loglikelihoods.len(),
            requests.len()
        )));
    }
    Ok(out)
}

/// Scores the requests with `scorer` and with transformers, and compares.
pub fn run<S: Scorer>(scorer: &mut S, tokenizer: &dyn Tokenizer, cfg: &Config) -> Result<Outcome> {
    let requests = requests(tokenizer, cfg)?;
    let start = Instant::now();
    let ours = scorer
        .loglikelihood(&requests)
        .map_err(|e| EvalError::Scorer {
            task: "bench score".into(),
            message: e.to_string(),
            cause: vec![crate::eval::error::ForeignDiagnostic(Box::new(e))],
        })?;
    let lpipe_s = start.elapsed().as_secs_f64();
    if ours.len() != requests.len() {
        return Err(EvalError::ScorerCount {
            expected: requests.len(),
            got: ours.len(),
        });
    }
    let reference = reference(&requests, cfg)?;
    let max_abs_diff = ours
        .iter()
        .zip(&reference.loglikelihoods)
        .map(|(a, b)| (a.logprob - b).abs())
        .fold(0.0, f64::max);
    let greedy_mismatches = ours
        .iter()
        .zip(&reference.is_greedy)
        .filter(|(a, b)| a.is_greedy != **b)
        .count();
    let version = reference
        .versions
        .get("transformers")
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    Ok(Outcome {
        requests: requests.len(),
        tokens: reference.tokens,
        lpipe_s,
        reference_s: reference.seconds,
        reference_passes: reference.forward_passes,
        max_abs_diff,
        greedy_mismatches,
        reference_label: format!("transformers {version} ({} threads)", reference.threads),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::request::LogLikelihood;

    struct Chars;
    impl Tokenizer for Chars {
        fn encode(&self, text: &str, _add_bos: bool) -> Vec<u32> {
            text.chars().map(u32::from).collect()
        }
        fn decode(&self, _ids: &[u32]) -> String {
            String::new()
        }
        fn bos_id(&self) -> Option<u32> {
            Some(1)
        }
        fn eos_id(&self) -> Option<u32> {
            None
        }
        fn vocab_size(&self) -> usize {
            0x11_0000
        }
    }

    /// −1 per continuation token; greedy when the continuation is one token.
    struct Toy;
    impl Scorer for Toy {
        type Error = EvalError;
        fn loglikelihood(&mut self, reqs: &[Request]) -> Result<Vec<LogLikelihood>> {
            Ok(reqs
                .iter()
                .map(|r| LogLikelihood {
                    logprob: -(r.continuation.len() as f64),
                    is_greedy: r.continuation.len() == 1,
                })
                .collect())
        }
    }

    /// The same rule in a stand-in for score.py, so the plumbing (request file, output parsing,
    /// comparison) is tested without torch.
    const FAKE_REFERENCE: &str = r#"
import json, sys
reqs = json.load(open(sys.argv[1]))["requests"]
print("loading...")
print(json.dumps({"seconds": 2.0, "tokens": sum(len(r["context"]) + len(r["continuation"]) for r in reqs),
  "forward_passes": len(reqs), "loglikelihoods": [-float(len(r["continuation"])) for r in reqs],
  "is_greedy": [len(r["continuation"]) == 1 for r in reqs], "threads": int(sys.argv[5]),
  "versions": {"transformers": "fake"}}))
"#;

    #[test]
    fn compares_with_the_reference_on_the_same_requests() {
        let Some(shared) = crate::testing::shared() else {
            return;
        };
        if crate::testing::tool("python3", &["-c", "1"]).is_none() {
            return;
        }
        let script =
            std::env::temp_dir().join(format!("lpipe-fake-score-{}.py", std::process::id()));
        std::fs::write(&script, FAKE_REFERENCE).unwrap();
        let mut cfg = Config::new(shared.join("data"), "model.gguf");
        cfg.python = "python3".into();
        cfg.script = script.clone();
        cfg.threads = 3;
        let out = run(&mut Toy, &Chars, &cfg).unwrap();
        // 16 BLiMP pairs, 16 arithmetic problems, 8 TruthfulQA questions (their choices), 4 × 4 MMLU letters.
        assert!(out.requests > 16 * 2 + 16 + 8 * 2 + 16);
        assert_eq!((out.max_abs_diff, out.greedy_mismatches), (0.0, 0));
        assert_eq!(out.reference_label, "transformers fake (3 threads)");
        let table = out.table();
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1][5], "1.00x");
        cfg.script = std::env::temp_dir().join("lpipe-no-such-script.py");
        assert!(matches!(
            run(&mut Toy, &Chars, &cfg),
            Err(EvalError::Reference { .. })
        ));
        std::fs::remove_file(script).unwrap();
    }
}
