//! `lpipe bench qlora`: CPU 4-bit dequantize throughput against a memcpy of the same output
//! size, and the QLoRA/LoRA training-step time ratio, both measured in the same run.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use rand::{Rng, SeedableRng};

use crate::ir::quant::{QuantType, Quantize};
use crate::model::ModelError;
use crate::model::quantize::{default_modules, quantize_llama};
use crate::nn::init::InitOptions;
use crate::nn::quant_linear::{PackedWeight, dequantize_par};
use crate::nn::{Llama, LlamaConfig};
use crate::quant::QuantError;
use crate::train::batch::{Example, collate};
use crate::train::llama::LlamaLora;
use crate::train::optim::{AdamWConfig, Optimizer, OptimizerConfig};
use crate::train::step::{LossNorm, StepOptions, train_step};
use crate::train::{AdapterConfig, TrainError};

/// Settings of the QLoRA benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Model to train (defaults to the cached SmolLM2-135M-Instruct GGUF, else a random
    /// SmolLM2-shaped stack).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Rows of the dequantized test matrix (`rows × cols` f32 output).
    #[arg(long, default_value_t = 4096)]
    pub rows: usize,
    /// Columns of the dequantized test matrix.
    #[arg(long, default_value_t = 4096)]
    pub cols: usize,
    /// Timed repetitions of each dequantize/memcpy (the best is reported).
    #[arg(long, default_value_t = 10)]
    pub reps: usize,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Sequences per training step.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Timed training steps per variant (after one warm-up).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BenchError {
    /// Loading the model failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] ModelError),
    /// Quantizing failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Quant(#[from] QuantError),
    /// A training step failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Train(#[from] TrainError),
}

/// The measurements.
#[derive(Debug, Clone)]
pub struct Report {
    /// Threads used.
    pub threads: usize,
    /// f32 output bytes per dequantize.
    pub out_bytes: usize,
    /// Best seconds: (name, seconds) for NF4+DQ dequantize, the quant reference, and memcpy.
    pub dequant: Vec<(String, f64)>,
    /// The model trained.
    pub model: String,
    /// Best seconds per LoRA step.
    pub lora_step_s: f64,
    /// Best seconds per QLoRA (NF4, double-quant) step.
    pub qlora_step_s: f64,
}

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs both measurements.
pub fn run(opts: &Options) -> Result<Report, BenchError> {
    // 1. dequantize vs memcpy, same f32 output size
    let (rows, cols) = (opts.rows.max(1), opts.cols.max(2));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let w: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-0.05f32..0.05))
        .collect();
    let q = crate::quant::quantize(
        "w",
        &w,
        &[rows, cols],
        crate::quant::QuantType::Nf4,
        64,
        true,
    )?;
    let p = PackedWeight::new(q.clone(), &Device::flex())?;
    let scales = q.absmax.values().into_owned();
    let mut out = vec![0f32; rows * cols];
    let t_ours = best_of(opts.reps, || dequantize_par(&q, &scales, &mut out));
    let t_ref = best_of(opts.reps, || {
        let _ = crate::quant::dequantize_into(&q, &mut out);
    });
    let t_copy = best_of(opts.reps, || {
        out.copy_from_slice(&w);
        std::hint::black_box(&out);
    });
    drop(p);

    // 2. training steps, LoRA then QLoRA, on the same base
    let device = Device::flex();
    let (base, model) = match opts.model.clone().or_else(crate::cache::smollm2_gguf) {
        Some(path) => (
            crate::model::load(&path, &device)?.model,
            path.display().to_string(),
        ),
        None => (
            LlamaConfig::new(49152, 576, 1536, 30, 9, 3, 64)
                .with_max_seq_len(opts.seq_len.max(8))
                .init_random(InitOptions { native_gqa: true }, &device),
            "random SmolLM2-shaped stack (model not cached)".into(),
        ),
    };
    let settings = Quantize {
        kind: QuantType::Nf4,
        double_quant: true,
        block_size: 64,
        modules: default_modules(),
    };
    let (qbase, _) = quantize_llama(base.clone(), &settings, None, &device)?;
    let lora_step_s = step_time(base, opts)?;
    let qlora_step_s = step_time(qbase, opts)?;
    Ok(Report {
        threads: crate::nn::parallel::threads(),
        out_bytes: 4 * rows * cols,
        dequant: vec![
            ("nf4+dq dequantize (nn::quant_linear)".into(), t_ours),
            ("nf4+dq dequantize (quant reference)".into(), t_ref),
            ("memcpy of the f32 output".into(), t_copy),
        ],
        model,
        lora_step_s,
        qlora_step_s,
    })
}

/// Best seconds of one AdamW step (forward, backward, update) with r=8 LoRA on every linear.
fn step_time(base: Llama, opts: &Options) -> Result<f64, BenchError> {
    let device = Device::flex().autodiff();
    let vocab = base.config.vocab_size as u32;
    let config = AdapterConfig {
        r: 8,
        lora_alpha: 16.0,
        lora_dropout: 0.0,
        target_modules: crate::nn::llama::LORA_TARGETS[..7]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        use_rslora: false,
        base_model_name_or_path: None,
    };
    let mut model = LlamaLora::new(base, config, &device)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let examples: Vec<Example> = (0..opts.batch.max(1))
        .map(|_| {
            Example::unmasked(
                (0..opts.seq_len.max(2))
                    .map(|_| rng.random_range(0..vocab))
                    .collect(),
            )
        })
        .collect();
    let mb = collate(&examples.iter().collect::<Vec<_>>(), 0);
    let mut opt = Optimizer::new(OptimizerConfig::AdamW(AdamWConfig::default()));
    let step = StepOptions {
        lr: 1e-4,
        max_grad_norm: None,
        norm: LossNorm::TokenMean,
        step: 1,
    };
    let mut err = None;
    let t = best_of(opts.steps, || {
        if let Err(e) = train_step(&mut model, &mut opt, std::slice::from_ref(&mb), &step, None) {
            err = Some(e);
        }
    });
    match err {
        Some(e) => Err(e.into()),
        None => Ok(t),
    }
}

/// The result as Markdown tables.
pub fn table(r: &Report) -> String {
    let gb = r.out_bytes as f64 / 1e9;
    let copy = r.dequant.last().map_or(f64::NAN, |(_, t)| *t);
    let mut out = format!(
        "CPU dequantize, {:.0} MB of f32 output, {} threads, best run\n\n| operation | GB/s of output | vs memcpy |\n|---|---:|---:|\n",
        r.out_bytes as f64 / 1e6,
        r.threads
    );
    for (name, t) in &r.dequant {
        out.push_str(&format!("| {name} | {:.2} | {:.2}× |\n", gb / t, copy / t));
    }
    out.push_str(&format!(
        "\ntraining step (AdamW, r=8 on all decoder linears), {}\n\n| variant | s/step | vs LoRA |\n|---|---:|---:|\n| LoRA (f32 base) | {:.3} | 1.00× |\n| QLoRA (nf4, double quant) | {:.3} | {:.2}× |\n",
        r.model,
        r.lora_step_s,
        r.qlora_step_s,
        r.qlora_step_s / r.lora_step_s
    ));
    out
}
