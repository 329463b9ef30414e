//! `lpipe bench qlora --device cuda`: LoRA and QLoRA (nf4, nf4 + double quant, fp4) training
//! steps on a GPU, on the same checkpoint and records, in one table.
//!
//! Each variant runs in a child process of its own (this binary, `--variant X --json`), so each
//! one's memory figures are its own: a device allocator keeps what it reserved for the life of
//! the process. Memory is read from the allocator after the timed steps: `reserved` is every
//! byte the pools hold (they never shrink during training, so it is the training peak, once
//! the dense weights that quantization replaced were released before the first step), and
//! `in use` what live tensors hold then (model, adapter, optimizer state). scripts/gpu-check.sh
//! adds what `nvidia-smi` saw per process, the CUDA context included.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::qlora::{BenchError, Options, Variant};
use crate::ir::Precision;
use crate::model::ModelError;
use crate::model::device::DeviceSpec;
use crate::model::quantize::quantize_llama;
use crate::train::AdapterConfig;
use crate::train::batch::{Example, collate};
use crate::train::llama::LlamaLora;
use crate::train::optim::{AdamWConfig, Optimizer, OptimizerConfig};
use crate::train::rng::TrainRng;
use crate::train::step::{LossNorm, StepOptions, train_step};

/// One variant's measurements, as a child prints them (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpuRow {
    /// `lora`, `nf4`, `nf4-dq` or `fp4`.
    pub variant: String,
    /// Seconds to load the checkpoint onto the device.
    pub load_s: f64,
    /// Seconds to quantize the base (0 for LoRA).
    pub quantize_s: f64,
    /// Median milliseconds per optimizer step (micro-batch 1).
    pub step_ms: f64,
    /// Tokens per second at the median step.
    pub tokens_per_s: f64,
    /// Loss of every step, warm-up included.
    pub losses: Vec<f32>,
    /// Bytes the device allocator reserved after the steps.
    pub reserved: u64,
    /// Bytes live tensors held after the steps.
    pub in_use: u64,
}

/// The variants of a full run, in table order.
const ALL: [Variant; 4] = [Variant::Lora, Variant::Nf4, Variant::Qlora, Variant::Fp4];

/// The variant's command-line name (`lora`, `nf4`, `nf4-dq`, `fp4`), as clap parses it.
fn name(v: Variant) -> String {
    clap::ValueEnum::to_possible_value(&v).map_or_else(String::new, |p| p.get_name().to_owned())
}

/// Runs every variant in a child process and prints the table; or, with `--json`, measures
/// `opts.variant` here and prints its row. `Ok(false)` when a variant failed (its child printed
/// why).
pub fn run(opts: &Options) -> Result<bool, BenchError> {
    if opts.json {
        let row = measure(opts, opts.variant)?;
        println!("{}", serde_json::to_string(&row).unwrap_or_default());
        return Ok(true);
    }
    // Fail here, once, when this build lacks the backend (opening the device is left to the
    // children: a context in the parent would count in every child's `nvidia-smi` figure).
    let spec: DeviceSpec = opts.device.parse().map_err(model_err)?;
    spec.device().map_err(model_err)?;
    model_dir(opts)?;
    let mut all_ok = true;
    let variants: Vec<Variant> = match opts.variant {
        Variant::Both => ALL.to_vec(),
        v => vec![v],
    };
    // Rows are printed as they finish: a run cut short by a time limit keeps what it measured.
    print!("{}", header(opts));
    let mut lora = None;
    for v in variants {
        eprintln!("bench qlora: {} ...", name(v));
        match child(opts, v) {
            Ok(row) => {
                print!("{}", line(&row, lora.as_ref()));
                use std::io::Write;
                let _ = std::io::stdout().flush();
                if row.variant == "lora" {
                    lora = Some(row);
                }
            }
            Err(why) => {
                eprintln!("bench qlora: {} failed: {why}", name(v));
                all_ok = false;
            }
        }
    }
    Ok(all_ok)
}

/// Runs this binary for one variant and reads its JSON row.
fn child(opts: &Options, v: Variant) -> Result<GpuRow, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "qlora", "--json", "--variant", &name(v)])
        .args(["--device", &opts.device])
        .args(["--seq-len", &opts.seq_len.to_string()])
        .args(["--steps", &opts.steps.to_string()])
        .args(["--batch", &opts.batch.to_string()]);
    if let Some(m) = &opts.model {
        cmd.arg("--model").arg(m);
    }
    if opts.all_linears {
        cmd.arg("--all-linears");
    }
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{'));
    match line {
        Some(l) if out.status.success() => serde_json::from_str(l).map_err(|e| e.to_string()),
        _ => Err(format!("exit {}: {}", out.status, text.trim())),
    }
}

fn model_err(e: ModelError) -> BenchError {
    BenchError::Model(e)
}

/// `--model`, required on a GPU (there is no cached GPU-sized default).
fn model_dir(opts: &Options) -> Result<PathBuf, BenchError> {
    opts.model.clone().ok_or_else(|| {
        model_err(ModelError::NotACheckpoint {
            path: PathBuf::from("--model"),
            what: "none was given, and `bench qlora` on a GPU needs `--model DIR` (an HF checkpoint, e.g. one made \
                   by ../shared/gpu/make_model.py)"
                .into(),
        })
    })
}

/// Loads, quantizes (QLoRA variants), then times `opts.steps` AdamW steps after two warm-ups
/// (the first steps compile kernels and tune the matmuls for these shapes).
fn measure(opts: &Options, v: Variant) -> Result<GpuRow, BenchError> {
    let spec: DeviceSpec = opts.device.parse().map_err(model_err)?;
    let device = spec.device_in(Precision::Bf16).map_err(model_err)?;
    let path = model_dir(opts)?;
    let t = Instant::now();
    let loaded = crate::model::load(&path, &device).map_err(model_err)?;
    let _ = device.sync();
    let load_s = t.elapsed().as_secs_f64();
    let vocab = loaded.config.vocab_size as u32;
    let mut base = loaded.model;

    let mut quantize_s = 0.0;
    if let Some(settings) = v.quantize() {
        let t = Instant::now();
        base = quantize_llama(base, &settings, None, &device)?.0;
        let _ = device.sync();
        // The dense weights quantization replaced go back to the driver, so what the pools
        // reserve from here on is QLoRA's own.
        device.memory_cleanup();
        quantize_s = t.elapsed().as_secs_f64();
    }

    // The seed's LoRA defaults: r = 8, alpha = 16, dropout 0.05 on q and v (or all linears).
    let ad = device.clone().autodiff();
    ad.seed(0);
    let targets: Vec<String> = if opts.all_linears {
        crate::nn::llama::LORA_TARGETS[..7]
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        vec!["q_proj".into(), "v_proj".into()]
    };
    let config = AdapterConfig {
        r: 8,
        lora_alpha: 16.0,
        lora_dropout: 0.05,
        target_modules: targets,
        use_rslora: false,
        base_model_name_or_path: None,
    };
    let mut model = LlamaLora::new(base, config, &ad).map_err(BenchError::Train)?;
    let mut rng = TrainRng::new(0);
    let examples: Vec<Example> = (0..opts.batch.max(1))
        .map(|_| {
            Example::unmasked(
                (0..opts.seq_len.max(2))
                    .map(|_| 1 + rng.below(u64::from(vocab.max(2) - 1)) as u32)
                    .collect(),
            )
        })
        .collect();
    let mb = collate(&examples.iter().collect::<Vec<_>>(), 0);
    let mut opt = Optimizer::new(OptimizerConfig::AdamW(AdamWConfig {
        weight_decay: 0.01,
        ..AdamWConfig::default()
    }));
    let mut losses = Vec::new();
    let mut times = Vec::new();
    let warmup = 2;
    for i in 0..warmup + opts.steps.max(1) {
        let step = StepOptions {
            lr: 3e-4,
            max_grad_norm: None,
            norm: LossNorm::TokenMean,
            step: i as u64 + 1,
        };
        let t = Instant::now();
        // train_step reads the loss back, so the step has finished on return.
        let stats = train_step(
            &mut model,
            &mut opt,
            std::slice::from_ref(&mb),
            &step,
            Some(&mut rng),
        )
        .map_err(BenchError::Train)?;
        if i >= warmup {
            times.push(t.elapsed().as_secs_f64());
        }
        losses.push(stats.loss);
    }
    times.sort_by(f64::total_cmp);
    let step_s = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
    let usage = device.memory_pool_usage();
    Ok(GpuRow {
        variant: name(v),
        load_s,
        quantize_s,
        step_ms: step_s * 1e3,
        tokens_per_s: (opts.batch.max(1) * opts.seq_len.max(2)) as f64 / step_s,
        losses,
        reserved: usage.map_or(0, |u| u.bytes_reserved),
        in_use: usage.map_or(0, |u| u.bytes_in_use),
    })
}

/// The table's caption and header.
pub fn header(opts: &Options) -> String {
    format!(
        "training step on {} (bf16, AdamW, r=8 {}, micro-batch {} x {} tokens, median of {} \
         after 2 warm-ups), {}\n\n| variant | load s | quantize s | ms/step | tok/s | vs LoRA \
         | reserved GB | in use GB | loss first → last |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
        opts.device,
        if opts.all_linears {
            "all linears"
        } else {
            "q,v"
        },
        opts.batch.max(1),
        opts.seq_len,
        opts.steps.max(1),
        opts.model
            .as_ref()
            .map_or("no model".into(), |p| p.display().to_string())
    )
}

/// One row, its step time relative to `lora`'s when known.
pub fn line(r: &GpuRow, lora: Option<&GpuRow>) -> String {
    let gb = |b: u64| b as f64 / 1e9;
    let ratio = lora.map_or("n/a".into(), |l| format!("{:.2}×", r.step_ms / l.step_ms));
    let first = r.losses.first().copied().unwrap_or(f32::NAN);
    let last = r.losses.last().copied().unwrap_or(f32::NAN);
    format!(
        "| {} | {:.1} | {:.1} | {:.1} | {:.0} | {ratio} | {:.2} | {:.2} | {first:.4} → {last:.4} |\n",
        r.variant,
        r.load_s,
        r.quantize_s,
        r.step_ms,
        r.tokens_per_s,
        gb(r.reserved),
        gb(r.in_use),
    )
}
