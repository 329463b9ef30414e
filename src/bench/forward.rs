//! `lpipe bench forward`: forward-pass tokens/s of lpipe and transformers on the same model.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use burn::tensor::Device;
use rand::{Rng, SeedableRng};

use crate::model::ModelError;
use crate::model::device::DeviceSpec;
use crate::model::score::id_tensor;

/// Settings of the forward benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Model to run (defaults to the cached SmolLM2-135M-Instruct GGUF).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Timed passes (the best is reported, after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Threads for the reference (PyTorch `set_num_threads`).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Device for lpipe.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Skip the transformers reference.
    #[arg(long)]
    pub no_reference: bool,
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Implementation.
    pub name: String,
    /// Best forward tokens/s, or why it is missing.
    pub tokens_per_s: Result<f64, String>,
}

/// Runs the benchmark and returns its rows (lpipe first).
pub fn run(opts: &Options) -> Result<Vec<Row>, ModelError> {
    let path = match &opts.model {
        Some(p) => p.clone(),
        None => crate::cache::smollm2_gguf().ok_or_else(|| ModelError::SourceNotFound {
            spec: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            searched: vec![crate::cache::cache_dir().join("models")],
        })?,
    };
    let spec: DeviceSpec = opts.device.parse()?;
    let device: Device = spec.device()?;
    let loaded = crate::model::load(&path, &device)?;
    let vocab = loaded.config.vocab_size as u32;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let ids: Vec<u32> = (0..opts.batch * opts.seq_len)
        .map(|_| rng.random_range(0..vocab))
        .collect();
    let mut best = f64::INFINITY;
    for i in 0..=opts.iters {
        let t = Instant::now();
        let logits = loaded.model.forward(id_tensor(&ids, opts.batch, &device));
        // Reading a value forces the whole pass to finish.
        let _ = logits.sum().into_data();
        if i > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    let tokens = (opts.batch * opts.seq_len) as f64;
    let mut rows = vec![Row {
        name: format!("lpipe (burn flex, {spec})"),
        tokens_per_s: Ok(tokens / best),
    }];
    if !opts.no_reference {
        rows.push(reference(&path, opts));
    }
    Ok(rows)
}

/// Runs `scripts/reference/forward.py` with `$LPIPE_PYTHON` (or `python3`).
fn reference(path: &std::path::Path, opts: &Options) -> Row {
    let python = std::env::var("LPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/forward.py");
    let name = format!("transformers ({python}, {} threads)", opts.threads);
    let out = Command::new(&python)
        .arg(&script)
        .arg("--model")
        .arg(path)
        .args(["--batch", &opts.batch.to_string()])
        .args(["--seq-len", &opts.seq_len.to_string()])
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

/// The result as a Markdown table with ratios to the reference.
pub fn table(rows: &[Row], opts: &Options) -> String {
    let reference = rows
        .get(1)
        .and_then(|r| r.tokens_per_s.as_ref().ok())
        .copied();
    let mut out = format!(
        "forward pass, batch {} × {} tokens, best of {}\n\n| implementation | tokens/s | vs transformers |\n|---|---:|---:|\n",
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
