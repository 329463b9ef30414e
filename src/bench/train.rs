//! `lpipe bench train`: LoRA training tokens/s of lpipe and PyTorch + PEFT on the same model.
//!
//! Both sides run the same step: forward, masked causal-LM loss, backward into the LoRA
//! tensors, AdamW update, on random tokens with the first half of each row masked out.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use burn::tensor::Device;

use crate::model::ModelError;
use crate::model::device::DeviceSpec;
use crate::train::batch::{Example, IGNORE_INDEX, collate};
use crate::train::llama::LlamaLora;
use crate::train::optim::{AdamWConfig, Optimizer, OptimizerConfig};
use crate::train::rng::TrainRng;
use crate::train::step::{LossNorm, StepOptions, train_step};
use crate::train::{AdapterConfig, TrainError};

/// Settings of the training benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Model to train (defaults to the cached SmolLM2-135M-Instruct GGUF).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Sequences per step.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// LoRA rank (on q_proj and v_proj, alpha = 2r).
    #[arg(long, default_value_t = 8)]
    pub rank: usize,
    /// Timed steps (the median is reported, after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Threads for the reference (PyTorch `set_num_threads`).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Skip the PyTorch + PEFT reference.
    #[arg(long)]
    pub no_reference: bool,
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Implementation.
    pub name: String,
    /// Median training tokens/s, or why it is missing.
    pub tokens_per_s: Result<f64, String>,
}

fn model_path(opts: &Options) -> Result<PathBuf, ModelError> {
    match &opts.model {
        Some(p) => Ok(p.clone()),
        None => crate::cache::smollm2_gguf().ok_or_else(|| ModelError::SourceNotFound {
            spec: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            searched: vec![crate::cache::cache_dir().join("models")],
        }),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn lpipe_row(opts: &Options) -> Result<Row, TrainError> {
    let model_err = |e: ModelError| TrainError::Model {
        reason: e.to_string(),
    };
    let path = model_path(opts).map_err(model_err)?;
    let spec: DeviceSpec = "cpu".parse().map_err(model_err)?;
    let loaded =
        crate::model::load(&path, &spec.device().map_err(model_err)?).map_err(model_err)?;
    let vocab = loaded.config.vocab_size;
    let device = Device::flex().autodiff();
    device.seed(0);
    let cfg = AdapterConfig {
        r: opts.rank,
        lora_alpha: 2.0 * opts.rank as f64,
        lora_dropout: 0.0,
        target_modules: vec!["q_proj".into(), "v_proj".into()],
        use_rslora: false,
        base_model_name_or_path: None,
    };
    let mut model = LlamaLora::new(loaded.model, cfg, &device)?;
    let mut rng = TrainRng::new(0);
    let examples: Vec<Example> = (0..opts.batch)
        .map(|_| {
            let ids: Vec<u32> = (0..opts.seq_len)
                .map(|_| rng.below(vocab as u64) as u32)
                .collect();
            let mut ex = Example::unmasked(ids);
            for l in ex.labels.iter_mut().take(opts.seq_len / 2) {
                *l = IGNORE_INDEX;
            }
            ex
        })
        .collect();
    let mb = collate(&examples.iter().collect::<Vec<_>>(), 0);
    let mut opt = Optimizer::new(OptimizerConfig::AdamW(AdamWConfig::default()));
    let mut times = Vec::new();
    for i in 0..=opts.iters {
        let step = StepOptions {
            lr: 1e-4,
            max_grad_norm: None,
            norm: LossNorm::TokenMean,
            step: i as u64 + 1,
        };
        let t = Instant::now();
        // train_step reads the loss and gradient norm back, so the step has finished on return.
        train_step(&mut model, &mut opt, std::slice::from_ref(&mb), &step, None)?;
        if i > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(Row {
        name: format!("lpipe (burn flex, r={} q,v)", opts.rank),
        tokens_per_s: Ok((opts.batch * opts.seq_len) as f64 / median(times)),
    })
}

/// Runs the benchmark and returns its rows (lpipe first).
pub fn run(opts: &Options) -> Result<Vec<Row>, TrainError> {
    let mut rows = vec![lpipe_row(opts)?];
    if !opts.no_reference {
        rows.push(reference(opts));
    }
    Ok(rows)
}

/// Runs `scripts/reference/train_step.py` with `$LPIPE_PYTHON` (or `python3`).
fn reference(opts: &Options) -> Row {
    let python = std::env::var("LPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/train_step.py");
    let name = format!("PyTorch + PEFT ({python}, {} threads)", opts.threads);
    let path = match model_path(opts) {
        Ok(p) => p,
        Err(e) => {
            return Row {
                name,
                tokens_per_s: Err(e.to_string()),
            };
        }
    };
    let out = Command::new(&python)
        .arg(&script)
        .arg("--model")
        .arg(&path)
        .args(["--batch", &opts.batch.to_string()])
        .args(["--seq-len", &opts.seq_len.to_string()])
        .args(["--rank", &opts.rank.to_string()])
        .args(["--iters", &opts.iters.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .output();
    let tokens_per_s = match out {
        Err(e) => Err(format!("cannot run `{python}`: {e}")),
        Ok(o) if !o.status.success() => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["tokens_per_s"].as_f64())
            .ok_or_else(|| "the reference printed no result".to_string()),
    };
    Row { name, tokens_per_s }
}

/// The result as a Markdown table with the ratio to the reference.
pub fn table(rows: &[Row], opts: &Options) -> String {
    let reference = rows
        .get(1)
        .and_then(|r| r.tokens_per_s.as_ref().ok())
        .copied();
    let mut out = format!(
        "LoRA training step (forward, backward, AdamW), batch {} × {} tokens, median of {}\n\n| implementation | tokens/s | vs PyTorch + PEFT |\n|---|---:|---:|\n",
        opts.batch, opts.seq_len, opts.iters
    );
    for r in rows {
        match &r.tokens_per_s {
            Ok(t) => {
                let ratio = reference.map_or("–".to_string(), |b| format!("{:.2}×", t / b));
                out.push_str(&format!("| {} | {t:.1} | {ratio} |\n", r.name));
            }
            Err(e) => out.push_str(&format!("| {} | unavailable: {e} | – |\n", r.name)),
        }
    }
    out
}
