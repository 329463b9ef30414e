//! `lpipe run`: executes each run of a checked pipeline, stage by stage, into its run directory.
//!
//! 1. model: resolve and load the base checkpoint and tokenizer
//! 2. dataset: tokenize and split (cached by content hash)
//! 3. eval on the base model (cached by weights + tasks, shared by every run of a sweep)
//! 4. train LoRA, checkpointing; an interrupted run resumes from its newest checkpoint
//! 5. save the adapter (PEFT format), eval on base + adapter, write `summary.json`

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use burn::module::Module;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::atomic::{write_atomic, write_json_atomic};
use super::error::ExecError;
use super::eval_stage::{self, EvalInputs};
use super::model_stage::{self, BaseModel};
use super::rundir::RunDir;
use super::{data_stage, train_stage};
use crate::eval::EvalOutput;
use crate::ir::{self, EvalOn, Pipeline, Run};
use crate::train::llama::LlamaLora;
use crate::train::model::adapter_of;
use crate::train::{CheckpointPlan, Event, fit};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Only this sweep point (0-based), as a Slurm array task runs.
    pub point: Option<usize>,
    /// Re-run runs whose `summary.json` exists.
    pub force: bool,
    /// Where evaluation data lives when an eval stage names none.
    pub data_dir: PathBuf,
    /// Draw progress bars (off for tests and non-terminals).
    pub progress: bool,
}

/// What one finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Skipped because it had finished before.
    pub skipped: bool,
    /// Stopped early by Ctrl-C (a checkpoint was written; re-run to resume).
    pub interrupted: bool,
}

/// Runs the selected runs of `pipeline`; one failing run does not stop the others.
pub fn run_pipeline(
    pipeline: &Pipeline,
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<Vec<RunOutcome>, ExecError> {
    let runs: Vec<&Run> = match opts.point {
        Some(p) => vec![pipeline.runs.get(p).ok_or(ExecError::NoSuchPoint {
            point: p,
            runs: pipeline.runs.len(),
        })?],
        None => pipeline.runs.iter().collect(),
    };
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for run in &runs {
        match run_one(pipeline, run, opts, stop) {
            Ok(outcome) => {
                let interrupted = outcome.interrupted;
                outcomes.push(outcome);
                if interrupted {
                    break;
                }
            }
            Err(err) if runs.len() > 1 => {
                eprintln!("{:?}", miette::Report::new(err));
                failed.push(run.name.clone());
            }
            Err(err) => return Err(err),
        }
    }
    if !failed.is_empty() {
        return Err(ExecError::RunsFailed {
            failed: failed.len(),
            total: runs.len(),
            names: failed.join(", "),
        });
    }
    Ok(outcomes)
}

fn log(msg: impl AsRef<str>) {
    eprintln!("lpipe: {}", msg.as_ref());
}

/// Executes one run.
pub fn run_one(
    pipeline: &Pipeline,
    run: &Run,
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<RunOutcome, ExecError> {
    let started = Instant::now();
    let cfg = &run.config;
    let dir = RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
        .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
    if dir.is_finished() && !opts.force {
        log(format!(
            "run `{}` already finished ({}); skipped",
            run.name,
            dir.summary().display()
        ));
        return Ok(RunOutcome {
            name: run.name.clone(),
            dir: dir.root().to_path_buf(),
            skipped: true,
            interrupted: false,
        });
    }
    let ron = ron::ser::to_string_pretty(run, ron::ser::PrettyConfig::default())
        .map_err(|e| ExecError::write(dir.ir(), std::io::Error::other(e)))?;
    write_atomic(&dir.ir(), ron.as_bytes()).map_err(|e| ExecError::write(dir.ir(), e))?;
    let base_dir = pipeline
        .source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    // 1. model
    // Train on an autodiff device; evaluation drops autodiff with `valid()`.
    let training = cfg.train.is_some() && cfg.lora.is_some();
    let t = Instant::now();
    let base = load_model(&cfg.model, &base_dir, training)?;
    log(format!(
        "model: {} ({} layers, vocab {}) on {} in {:.1}s",
        base.loaded.path.display(),
        base.loaded.config.num_layers,
        base.loaded.config.vocab_size,
        cfg.model.device,
        t.elapsed().as_secs_f64()
    ));
    let mut base = base;
    if let Some(q) = &cfg.quantize {
        // QLoRA: the frozen base goes 4-bit (cached by content hash, so a sweep quantizes once).
        let mut q = q.clone();
        if q.modules.is_empty() {
            q.modules = crate::model::quantize::default_modules();
        }
        let t = Instant::now();
        let model = base.loaded.model.clone();
        let (model, report) = crate::model::quantize::quantize_llama(
            model,
            &q,
            Some(&crate::cache::cache_dir()),
            &base.device,
        )?;
        base.loaded.model = model;
        log(format!(
            "quantize: {} {} linears, {} → {} bytes ({}) in {:.1}s",
            report.modules.len(),
            q.kind.name(),
            report.dense_bytes,
            report.packed_bytes,
            if report.cache_hit {
                "cached"
            } else {
                "quantized"
            },
            t.elapsed().as_secs_f64()
        ));
    }

    // 2. dataset
    let data = match &cfg.dataset {
        Some(ds) => {
            let t = Instant::now();
            let (prepared, dcfg) =
                data_stage::run(ds, &base_dir, &*base.tokenizer, &base.tokenizer_id)?;
            log(format!(
                "dataset: {} train / {} validation examples; {}; {:?} in {:.1}s",
                prepared.split.train.len(),
                prepared.split.validation.len(),
                prepared.stats,
                prepared.cache,
                t.elapsed().as_secs_f64()
            ));
            Some((prepared, dcfg.template))
        }
        None => None,
    };
    let eval_inputs = EvalInputs {
        tokenizer: &*base.tokenizer,
        heldout: data
            .as_ref()
            .filter(|(p, _)| !p.heldout.is_empty())
            .map(|(p, t)| (p.heldout.as_slice(), t)),
        data_dir: opts.data_dir.clone(),
        prefix_token: base.prefix_token,
        progress: opts.progress,
    };

    // 3. eval on the base model (shared by the pipeline's runs)
    let base_evals: Vec<&ir::Eval> = cfg
        .evals
        .iter()
        .filter(|e| e.on.contains(&EvalOn::Base))
        .collect();
    if !base_evals.is_empty() {
        let base_dir_out = RunDir::create(&pipeline.runs_dir, &pipeline.name, "base")
            .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
        let key = crate::data::alpaca::hex_sha256(
            format!(
                "{}\n{}\n{:?}",
                base.weights_id,
                serde_json::to_string(&base_evals).unwrap_or_default(),
                data.as_ref().map(|(p, _)| &p.key)
            )
            .as_bytes(),
        );
        let key_file = base_dir_out.root().join("cache_key");
        if std::fs::read_to_string(&key_file).ok().as_deref() == Some(key.as_str()) {
            log("eval on base: cached (same weights and tasks)");
        } else {
            let model = base.loaded.model.valid();
            let out = run_evals(&model, &base_evals, &eval_inputs)?;
            print!("{}", out.report.table().render(crate::eval::Format::Table));
            eval_stage::write(&out, base_dir_out.root())?;
            write_atomic(&key_file, key.as_bytes()).map_err(|e| ExecError::write(&key_file, e))?;
        }
    }

    // 4. train
    let mut summary = json!({
        "pipeline": pipeline.name,
        "run": run.name,
        "point": run.point.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    });
    let mut interrupted = false;
    let mut trained = None;
    if let (Some(train), Some(lora), Some((prepared, _))) = (&cfg.train, &cfg.lora, &data) {
        let train_examples = train_stage::examples(prepared.train());
        let val_examples = train_stage::examples(prepared.validation());
        let steps = train_stage::optimizer_steps(train, train_examples.len());
        let pad = base.tokenizer.eos_id().unwrap_or(0);
        let tcfg = train_stage::config(train, steps, pad)?;
        let adapter_cfg =
            train_stage::adapter_config(lora, &base.loaded.path.display().to_string());
        // LoRA init and dropout draw from the device's generator: seeded, runs repeat exactly.
        base.device.seed(train.seed);
        let mut model = LlamaLora::new(base.loaded.model.clone(), adapter_cfg, &base.device)?;
        let trainable: usize = model
            .model
            .lora_tensors()
            .iter()
            .map(|(_, t)| t.shape().num_elements())
            .sum();
        log(format!(
            "train: {steps} optimizer steps, batch {} (micro {}), {trainable} trainable parameters",
            train.batch_size, train.micro_batch_size
        ));
        let bar = progress_bar(steps, opts.progress);
        let t = Instant::now();
        let mut on_event = |event: &Event| {
            let _ = dir.append_metric(&serde_json::to_value(event).unwrap_or_default());
            match event {
                Event::Step {
                    step,
                    stats,
                    elapsed_s,
                } => {
                    bar.set_position(*step);
                    let tps = stats.tokens as f64 / elapsed_s.max(1e-9);
                    bar.set_message(format!("loss {:.4}  lr {:.2e}", stats.loss, stats.lr));
                    let _ = tps;
                }
                Event::Eval { step, val_loss } => {
                    bar.println(format!("step {step}: validation loss {val_loss:.4}"))
                }
                Event::Resumed { step, path } => {
                    bar.println(format!("resumed at step {step} from {}", path.display()))
                }
                Event::Checkpoint { .. } => {}
            }
        };
        let plan = CheckpointPlan {
            root: Some(dir.checkpoints()),
            resume: true,
        };
        let outcome = fit(
            &mut model,
            &train_examples,
            &val_examples,
            &tcfg,
            &plan,
            stop,
            &mut on_event,
        )?;
        bar.finish_and_clear();
        interrupted = outcome.interrupted;
        summary["train"] = json!({
            "steps": outcome.steps,
            "optimizer_steps_planned": steps,
            "trainable_params": trainable,
            "last_loss": outcome.last_loss,
            "last_val_loss": outcome.last_val_loss,
            "best_val_loss": outcome.best_val_loss,
            "wall_s": t.elapsed().as_secs_f64(),
        });
        if interrupted {
            log(format!(
                "interrupted after step {}: checkpoint saved; run the same command to resume",
                outcome.steps
            ));
        } else {
            // 5. the adapter, in PEFT's format
            adapter_of(&model)?.save(&dir.adapter())?;
            log(format!(
                "train: {} steps in {:.1}s, final loss {:.4}; adapter in {}",
                outcome.steps,
                t.elapsed().as_secs_f64(),
                outcome.last_loss.unwrap_or(f32::NAN),
                dir.adapter().display()
            ));
            trained = Some(model);
        }
    }

    // 5. eval on base + adapter
    let adapter_evals: Vec<&ir::Eval> = cfg
        .evals
        .iter()
        .filter(|e| e.on.contains(&EvalOn::Adapter))
        .collect();
    if let (false, Some(model)) = (adapter_evals.is_empty(), &trained) {
        let model = model.model.valid();
        let out = run_evals(&model, &adapter_evals, &eval_inputs)?;
        print!("{}", out.report.table().render(crate::eval::Format::Table));
        eval_stage::write(&out, dir.root())?;
        summary["eval"] = serde_json::to_value(&out.report.scores).unwrap_or_default();
    }
    if !interrupted {
        summary["wall_s"] = json!(started.elapsed().as_secs_f64());
        write_json_atomic(&dir.summary(), &summary)
            .map_err(|e| ExecError::write(dir.summary(), e))?;
    }
    Ok(RunOutcome {
        name: run.name.clone(),
        dir: dir.root().to_path_buf(),
        skipped: false,
        interrupted,
    })
}

fn load_model(model: &ir::Model, base_dir: &Path, training: bool) -> Result<BaseModel, ExecError> {
    model_stage::load_base_on(model, base_dir, training)
}

/// Runs several eval stages on one model and merges their results into one report.
fn run_evals(
    model: &crate::nn::Llama,
    evals: &[&ir::Eval],
    inputs: &EvalInputs,
) -> Result<EvalOutput, ExecError> {
    let mut merged: Option<EvalOutput> = None;
    for eval in evals {
        let out = eval_stage::run(model, eval, inputs)?;
        match &mut merged {
            None => merged = Some(out),
            Some(m) => {
                m.report.scores.extend(out.report.scores);
                m.report.wall_s += out.report.wall_s;
                m.samples.extend(out.samples);
            }
        }
    }
    merged.ok_or_else(|| ExecError::Unsupported {
        what: "no eval stage to run".into(),
        help: "add an `eval` block".into(),
    })
}

fn progress_bar(steps: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template(
            "train [{bar:30}] {pos}/{len} steps  {msg}  {per_sec}  eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
