//! `lpipe bench qlora`: CPU 4-bit dequantize throughput against a memcpy of the same output
//! size, and the QLoRA/LoRA training-step time and peak-memory ratios, measured in the same run.
//!
//! Peak memory is the resident-set high-water mark (`VmHWM`) over the training steps only: the
//! mark is reset (`/proc/self/clear_refs`) once the model is built, so loading and quantizing do
//! not count. Run one variant per process (`--variant lora|qlora`) for clean figures; with
//! `MALLOC_MMAP_THRESHOLD_=131072` glibc returns freed tensors to the system, so the resident
//! set follows what is live.

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
    /// What to measure: everything, or the training steps of one variant (for peak memory).
    #[arg(long, value_enum, default_value_t = Variant::Both)]
    pub variant: Variant,
    /// `cpu` (flex, f32), or a GPU (`cuda`, `cuda:N`, `wgpu`: bf16, `--model` required, one
    /// child process per variant).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// LoRA on every decoder linear instead of q and v (GPU runs; the CPU run always uses all).
    #[arg(long)]
    pub all_linears: bool,
    /// Measure `--variant` only and print its row as one JSON line (what GPU runs spawn).
    #[arg(long, hide = true)]
    pub json: bool,
}

/// Which parts of the benchmark run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Dequantize throughput and every training variant.
    #[value(alias = "all")]
    Both,
    /// Only LoRA training steps on the dense base.
    Lora,
    /// Only QLoRA (NF4, double quant) training steps.
    #[value(name = "nf4-dq", alias = "qlora")]
    Qlora,
    /// Only QLoRA with NF4, plain f32 absmax.
    Nf4,
    /// Only QLoRA with FP4, plain f32 absmax.
    Fp4,
}

impl Variant {
    /// The quantization of a QLoRA variant (`None` for LoRA); `Both` stands for the QLoRA
    /// recipe, NF4 with double quantization.
    pub fn quantize(self) -> Option<Quantize> {
        let (kind, double_quant) = match self {
            Variant::Qlora | Variant::Both => (QuantType::Nf4, true),
            Variant::Nf4 => (QuantType::Nf4, false),
            Variant::Fp4 => (QuantType::Fp4, false),
            Variant::Lora => return None,
        };
        Some(Quantize {
            kind,
            double_quant,
            block_size: 64,
            modules: default_modules(),
        })
    }
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
    /// Best seconds per LoRA step and peak resident bytes while training (if run).
    pub lora: Option<StepStats>,
    /// The same for QLoRA.
    pub qlora: Option<StepStats>,
    /// Which QLoRA quantization `qlora` measured (`Both` runs NF4 with double quantization).
    pub qlora_variant: Variant,
}

/// One training variant's figures.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    /// Best seconds per step.
    pub step_s: f64,
    /// Resident-set high-water mark over the steps (bytes; `None` where /proc is missing).
    pub peak_rss: Option<u64>,
    /// Resident bytes just before the first step (model, adapter, optimizer).
    pub start_rss: Option<u64>,
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

/// Runs the measurements `opts.variant` selects.
pub fn run(opts: &Options) -> Result<Report, BenchError> {
    let dequant = if opts.variant == Variant::Both {
        dequant_times(opts)?
    } else {
        Vec::new()
    };
    let (rows, cols) = (opts.rows.max(1), opts.cols.max(2));

    // training steps, LoRA then QLoRA, on the same base
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
    let lora = match opts.variant {
        Variant::Both | Variant::Lora => Some(step_time(base.clone(), opts)?),
        _ => None,
    };
    // `Both` on the CPU compares LoRA with the QLoRA recipe (nf4 + double quant).
    let qlora = match opts.variant.quantize() {
        None => None,
        Some(settings) => {
            let (qbase, _) = quantize_llama(base, &settings, None, &device)?;
            Some(step_time(qbase, opts)?)
        }
    };
    Ok(Report {
        threads: crate::nn::parallel::threads(),
        out_bytes: 4 * rows * cols,
        dequant,
        model,
        lora,
        qlora,
        qlora_variant: opts.variant,
    })
}

/// Best seconds of each dequantize path and of a memcpy of the same f32 output.
fn dequant_times(opts: &Options) -> Result<Vec<(String, f64)>, BenchError> {
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
    drop(out);
    // The whole flex op as training runs it: 8-bit absmax expanded, output allocated.
    let p = PackedWeight::new(q, &Device::flex())?;
    let t_flex = best_of(opts.reps, || {
        std::hint::black_box(p.dense().dims());
    });
    Ok(vec![
        (
            "nf4+dq dequantize (host loop, nn::quant_linear)".into(),
            t_ours,
        ),
        (
            "nf4+dq dequantize (flex Q4Backend op, incl. alloc)".into(),
            t_flex,
        ),
        ("nf4+dq dequantize (quant reference)".into(), t_ref),
        ("memcpy of the f32 output".into(), t_copy),
    ])
}

/// Resident-set figures from `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn rss(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the resident-set high-water mark to the current resident set (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Best seconds of one AdamW step (forward, backward, update) with r=8 LoRA on every linear,
/// and the peak resident set over the steps.
fn step_time(base: Llama, opts: &Options) -> Result<StepStats, BenchError> {
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
    let start_rss = rss("VmRSS:");
    let reset = reset_peak_rss();
    let t = best_of(opts.steps, || {
        if let Err(e) = train_step(&mut model, &mut opt, std::slice::from_ref(&mb), &step, None) {
            err = Some(e);
        }
    });
    let peak_rss = if reset { rss("VmHWM:") } else { None };
    match err {
        Some(e) => Err(e.into()),
        None => Ok(StepStats {
            step_s: t,
            peak_rss,
            start_rss,
        }),
    }
}

/// The result as Markdown tables.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    if !r.dequant.is_empty() {
        let gb = r.out_bytes as f64 / 1e9;
        let copy = r.dequant.last().map_or(f64::NAN, |(_, t)| *t);
        out.push_str(&format!(
            "CPU dequantize, {:.0} MB of f32 output, {} threads, best run\n\n| operation | GB/s of output | vs memcpy |\n|---|---:|---:|\n",
            r.out_bytes as f64 / 1e6,
            r.threads
        ));
        for (name, t) in &r.dequant {
            out.push_str(&format!("| {name} | {:.2} | {:.2}× |\n", gb / t, copy / t));
        }
        out.push('\n');
    }
    let mb = |b: Option<u64>| b.map_or("n/a".to_string(), |b| format!("{:.0}", b as f64 / 1e6));
    out.push_str(&format!(
        "training step (AdamW, r=8 on all decoder linears), {}\n\n| variant | s/step | vs LoRA | RSS before steps (MB) | peak RSS in steps (MB) |\n|---|---:|---:|---:|---:|\n",
        r.model
    ));
    let lora_s = r.lora.map(|l| l.step_s);
    let qlora = match r.qlora_variant {
        Variant::Nf4 => "QLoRA (nf4)",
        Variant::Fp4 => "QLoRA (fp4)",
        _ => "QLoRA (nf4, double quant)",
    };
    for (name, stats) in [("LoRA (f32 base)", r.lora), (qlora, r.qlora)] {
        let Some(s) = stats else { continue };
        let ratio = lora_s.map_or("n/a".to_string(), |l| format!("{:.2}×", s.step_s / l));
        out.push_str(&format!(
            "| {name} | {:.3} | {ratio} | {} | {} |\n",
            s.step_s,
            mb(s.start_rss),
            mb(s.peak_rss)
        ));
    }
    out
}
