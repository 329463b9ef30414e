//! `lpipe run`: executes each run of a checked pipeline, stage by stage, into its run directory.
//!
//! 1. model: resolve and load the base checkpoint and tokenizer
//! 2. dataset: tokenize and split (cached by content hash)
//! 3. eval on the base model (cached by weights + tasks, shared by every run of a sweep)
//! 4. train LoRA, checkpointing; an interrupted run resumes from its newest checkpoint
//! 5. save the adapter (PEFT format), eval on base + adapter, write `summary.json`
//!
//! Stages 1–3 depend only on the model, quantization, data and base-eval settings, so the runs of
//! a sweep share them: the loaded (and quantized) base stays in memory from one run to the next
//! when those settings match, and the tokenized data, quantized weights and base evaluation are
//! content-addressed in the cache for other processes (`--jobs`, Slurm tasks). Every stage logs
//! whether it did the work or found it done.

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
use crate::data::prepare::CacheUse;
use crate::eval::EvalOutput;
use crate::ir::{self, EvalOn, Pipeline, Run};
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
    /// Most runs at once (separate processes, as memory allows); 1 runs them in this process.
    pub jobs: usize,
    /// The `--set` overrides the pipeline was checked with (forwarded to `--jobs` processes).
    pub sets: Vec<String>,
}

/// Exit status of `lpipe run` when a run stopped at its `max_time` (sysexits' EX_TEMPFAIL: run
/// the same command again to continue).
pub const EXIT_TIMED_OUT: i32 = 75;

/// What one finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Skipped because it had finished before.
    pub skipped: bool,
    /// Stopped early by Ctrl-C or `max_time` (a checkpoint was written; re-run to resume).
    pub interrupted: bool,
    /// It was `max_time`.
    pub timed_out: bool,
}

/// Runs the selected runs of `pipeline`; one failing run does not stop the others, and the
/// failures are listed at the end.
pub fn run_pipeline(
    pipeline: &Pipeline,
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<Vec<RunOutcome>, ExecError> {
    let indices: Vec<usize> = match opts.point {
        Some(p) if p >= pipeline.runs.len() => {
            return Err(ExecError::NoSuchPoint {
                point: p,
                runs: pipeline.runs.len(),
            });
        }
        Some(p) => vec![p],
        None => (0..pipeline.runs.len()).collect(),
    };
    let outcomes = if opts.jobs > 1 && indices.len() > 1 {
        super::jobs::run_parallel(pipeline, &indices, opts, stop)?
    } else {
        run_pipeline_indices(pipeline, &indices, opts, stop)?
    };
    report(pipeline, opts, &outcomes)?;
    Ok(outcomes)
}

/// The `report` stage, once per invocation over the whole sweep directory; a `--point` run (one
/// process of `--jobs` or of a Slurm array) leaves it to the invocation that runs them all.
fn report(
    pipeline: &Pipeline,
    opts: &RunOptions,
    outcomes: &[RunOutcome],
) -> Result<(), ExecError> {
    let Some(report) = pipeline.runs.iter().find_map(|r| r.config.report.as_ref()) else {
        return Ok(());
    };
    if opts.point.is_some() {
        log("report: not written for a single point (`lpipe report` writes it)");
        return Ok(());
    }
    if outcomes.iter().any(|o| o.interrupted && !o.timed_out) {
        return Ok(());
    }
    for path in super::report_stage::write(report, &sweep_dir(pipeline))? {
        log(format!("report: {}", path.display()));
    }
    Ok(())
}

/// Runs `indices` one after another in this process, sharing the loaded base between them.
pub(crate) fn run_pipeline_indices(
    pipeline: &Pipeline,
    indices: &[usize],
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<Vec<RunOutcome>, ExecError> {
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    let mut shared = SharedBase::default();
    for &i in indices {
        let Some(run) = pipeline.runs.get(i) else {
            continue;
        };
        match run_one_shared(pipeline, run, opts, stop, &mut shared) {
            Ok(outcome) => {
                // Ctrl-C stops the sweep; a point's own `max_time` stops only that point.
                let stop_all = outcome.interrupted && !outcome.timed_out;
                outcomes.push(outcome);
                if stop_all {
                    break;
                }
            }
            Err(err) if indices.len() > 1 => {
                let message = err.to_string();
                eprintln!("{:?}", miette::Report::new(err));
                log(format!(
                    "run {}: failed; continuing with the others",
                    run.name
                ));
                failed.push((run.name.clone(), message));
            }
            Err(err) => return Err(err),
        }
    }
    finish(outcomes, failed, indices.len())
}

/// Prints the failed runs with their errors; an error when any failed.
pub(crate) fn finish(
    outcomes: Vec<RunOutcome>,
    failed: Vec<(String, String)>,
    total: usize,
) -> Result<Vec<RunOutcome>, ExecError> {
    if failed.is_empty() {
        return Ok(outcomes);
    }
    eprintln!(
        "\nlpipe: {} of {total} runs failed ({} finished):",
        failed.len(),
        outcomes.len()
    );
    for (name, message) in &failed {
        eprintln!("  {name}: {message}");
    }
    Err(ExecError::RunsFailed {
        failed: failed.len(),
        total,
        names: failed
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

pub(crate) fn log(msg: impl AsRef<str>) {
    eprintln!("lpipe: {}", msg.as_ref());
}

/// The sweep directory `<runs_dir>/<pipeline>`: one subdirectory per run.
pub fn sweep_dir(pipeline: &Pipeline) -> PathBuf {
    pipeline
        .runs_dir
        .join(super::rundir::sanitize(&pipeline.name))
}

/// The directory name of run `name` inside the sweep directory.
pub fn run_dir_name(name: &str) -> String {
    super::rundir::sanitize(name)
}

/// The loaded (and quantized) base model of the previous run, kept for the next run with the
/// same model settings.
#[derive(Default)]
pub struct SharedBase {
    slot: Option<(String, String, BaseModel)>,
}

/// What identifies a loaded base: the model and quantization settings and the device kind.
fn base_key(cfg: &ir::RunConfig, training: bool) -> String {
    format!(
        "{}|{}|{training}",
        serde_json::to_string(&cfg.model).unwrap_or_default(),
        serde_json::to_string(&cfg.quantize).unwrap_or_default()
    )
}

/// What stages 1–3 leave for training and the adapter's evaluation.
struct Prepared {
    data: Option<(crate::data::PreparedDataset, crate::data::Template)>,
}

/// Prepares the stages a sweep's runs share (model, quantization, data, base evaluation) without
/// training: `--jobs` does this once before starting processes, so they find everything cached.
pub fn prepare_shared(
    pipeline: &Pipeline,
    run: &Run,
    opts: &RunOptions,
    shared: &mut SharedBase,
) -> Result<(), ExecError> {
    shared_stages(pipeline, run, opts, shared).map(|_| ())
}

/// Stages 1–3; the base model is left in `shared`.
fn shared_stages(
    pipeline: &Pipeline,
    run: &Run,
    opts: &RunOptions,
    shared: &mut SharedBase,
) -> Result<Prepared, ExecError> {
    let cfg = &run.config;
    let base_dir = pipeline
        .source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    // 1. model
    // Train on an autodiff device; evaluation drops autodiff with `valid()`.
    let training = cfg.train.is_some() && cfg.lora.is_some();
    let key = base_key(cfg, training);
    match &shared.slot {
        Some((k, from, _)) if *k == key => {
            log(format!(
                "model: reused from run {from} (same model{} settings), not loaded again",
                if cfg.quantize.is_some() {
                    " and quantization"
                } else {
                    ""
                }
            ));
        }
        _ => {
            // Drop the previous base before loading the next: only one is held at a time.
            shared.slot = None;
            let base = load_base(cfg, &base_dir, training)?;
            shared.slot = Some((key, run.name.clone(), base));
        }
    }
    let Some((_, _, base)) = &shared.slot else {
        return Err(ExecError::Unsupported {
            what: "the base model was not kept".into(),
            help: "report this as a bug".into(),
        });
    };

    // 2. dataset
    let data = match &cfg.dataset {
        Some(ds) => {
            let t = Instant::now();
            let (prepared, dcfg) =
                data_stage::run(ds, &base_dir, &*base.tokenizer, &base.tokenizer_id)?;
            let short = prepared.key.get(..12).unwrap_or(&prepared.key);
            let how = match &prepared.cache {
                CacheUse::Hit(_) => format!("cached (key {short}), not tokenized again"),
                CacheUse::Written(_) => format!("tokenized and cached (key {short})"),
                CacheUse::Rebuilt(_, why) => {
                    format!("tokenized again (key {short}; cache entry unusable: {why})")
                }
                CacheUse::Disabled => "tokenized (no cache directory)".into(),
            };
            log(format!(
                "dataset: {how}; {} train / {} validation examples; {} in {:.1}s",
                prepared.split.train.len(),
                prepared.split.validation.len(),
                prepared.stats,
                t.elapsed().as_secs_f64()
            ));
            Some((prepared, dcfg.template))
        }
        None => None,
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
        let short = key.get(..12).unwrap_or(&key);
        let key_file = base_dir_out.root().join("cache_key");
        if std::fs::read_to_string(&key_file).ok().as_deref() == Some(key.as_str()) {
            log(format!(
                "eval on base: cached (key {short}, same weights, tasks and data), not run again; {}",
                base_dir_out.root().display()
            ));
        } else {
            let t = Instant::now();
            let inputs = eval_inputs(base, &data, opts);
            let model = base.loaded.model.valid();
            let out = run_evals(&model, &base_evals, &inputs)?;
            print!("{}", out.report.table().render(crate::eval::Format::Table));
            eval_stage::write(&out, base_dir_out.root())?;
            write_atomic(&key_file, key.as_bytes()).map_err(|e| ExecError::write(&key_file, e))?;
            log(format!(
                "eval on base: done in {:.1}s and cached (key {short}); {}",
                t.elapsed().as_secs_f64(),
                base_dir_out.root().display()
            ));
        }
    }
    Ok(Prepared { data })
}

fn eval_inputs<'a>(
    base: &'a BaseModel,
    data: &'a Option<(crate::data::PreparedDataset, crate::data::Template)>,
    opts: &RunOptions,
) -> EvalInputs<'a> {
    EvalInputs {
        tokenizer: &*base.tokenizer,
        heldout: data
            .as_ref()
            .filter(|(p, _)| !p.heldout.is_empty())
            .map(|(p, t)| (p.heldout.as_slice(), t)),
        data_dir: opts.data_dir.clone(),
        prefix_token: base.prefix_token,
        progress: opts.progress,
    }
}

/// Loads the base model (and quantizes it: the 4-bit weights are cached by content hash).
fn load_base(cfg: &ir::RunConfig, base_dir: &Path, training: bool) -> Result<BaseModel, ExecError> {
    let t = Instant::now();
    let mut base = load_model(&cfg.model, base_dir, training)?;
    log(format!(
        "model: loaded {} ({} layers, vocab {}) on {} in {:.1}s",
        base.loaded.path.display(),
        base.loaded.config.num_layers,
        base.loaded.config.vocab_size,
        cfg.model.device,
        t.elapsed().as_secs_f64()
    ));
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
        let how = match (report.cache_hit, &report.cache_file) {
            (true, Some(f)) => format!("cached ({}), not quantized again", f.display()),
            (true, None) => "cached, not quantized again".into(),
            (false, Some(f)) => format!("quantized and cached ({})", f.display()),
            (false, None) => "quantized (no cache directory)".into(),
        };
        log(format!(
            "quantize: {how}; {} {} linears, {} → {} bytes in {:.1}s",
            report.modules.len(),
            q.kind.name(),
            report.dense_bytes,
            report.packed_bytes,
            t.elapsed().as_secs_f64()
        ));
    }
    Ok(base)
}

/// Executes one run, reusing the base model `shared` holds when the settings match.
pub fn run_one_shared(
    pipeline: &Pipeline,
    run: &Run,
    opts: &RunOptions,
    stop: &AtomicBool,
    shared: &mut SharedBase,
) -> Result<RunOutcome, ExecError> {
    let started = Instant::now();
    let cfg = &run.config;
    let dir = RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
        .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
    if dir.is_finished() && !opts.force {
        log(format!(
            "run {}: finished earlier ({}), skipped",
            run.name,
            dir.summary().display()
        ));
        return Ok(RunOutcome {
            name: run.name.clone(),
            dir: dir.root().to_path_buf(),
            skipped: true,
            interrupted: false,
            timed_out: false,
        });
    }
    log(format!(
        "run {}: starting in {}",
        run.name,
        dir.root().display()
    ));
    let ron = ron::ser::to_string_pretty(run, ron::ser::PrettyConfig::default())
        .map_err(|e| ExecError::write(dir.ir(), std::io::Error::other(e)))?;
    write_atomic(&dir.ir(), ron.as_bytes()).map_err(|e| ExecError::write(dir.ir(), e))?;

    let Prepared { data } = shared_stages(pipeline, run, opts, shared)?;
    let Some((_, _, base)) = &shared.slot else {
        return Err(ExecError::Unsupported {
            what: "the base model was not kept".into(),
            help: "report this as a bug".into(),
        });
    };
    let eval_inputs = eval_inputs(base, &data, opts);

    // 4. train
    let mut summary = json!({
        "pipeline": pipeline.name,
        "run": run.name,
        "point": run.point.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    });
    let (mut interrupted, mut timed_out) = (false, false);
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
        let mut model =
            train_stage::init_adapter(base.loaded.model.clone(), lora, adapter_cfg, &base.device)?;
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
        let (mut first_step, mut tokens_seen) = (None, 0u64);
        let mut on_event = |event: &Event| {
            let _ = dir.append_metric(&serde_json::to_value(event).unwrap_or_default());
            match event {
                Event::Step {
                    step,
                    stats,
                    elapsed_s,
                } => {
                    bar.set_position(*step);
                    bar.set_message(format!("loss {:.4}  lr {:.2e}", stats.loss, stats.lr));
                    // `log_interval`: one line per N steps, above the bar or alone on a pipe.
                    let first = *first_step.get_or_insert(*step);
                    tokens_seen += stats.tokens as u64;
                    if step.is_multiple_of(train.log_interval.max(1)) || *step == steps {
                        let done = (step + 1 - first) as f64;
                        let eta = elapsed_s / done * steps.saturating_sub(*step) as f64;
                        let line = format!(
                            "lpipe: step {step}/{steps}: loss {:.4}, lr {:.2e}, {:.0} tok/s, eta {}",
                            stats.loss,
                            stats.lr,
                            tokens_seen as f64 / elapsed_s.max(1e-9),
                            format_eta(eta)
                        );
                        if bar.is_hidden() {
                            eprintln!("{line}");
                        } else {
                            bar.println(line);
                        }
                    }
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
        timed_out = outcome.timed_out;
        if timed_out {
            log(format!(
                "max_time reached after step {} of {steps}: checkpoint saved; run the same \
                 command to continue",
                outcome.steps
            ));
        } else if interrupted {
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
            if let Some(export) = &cfg.export {
                export_adapter(
                    export,
                    pipeline,
                    &run.name,
                    &dir.adapter(),
                    &base.loaded.path,
                )?;
            }
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
        // The peak is the process's: per run under `--jobs` and Slurm, cumulative when one
        // process runs several points in turn.
        summary["memory"] = json!({
            "peak_rss_bytes": super::sysmem::peak_rss_bytes(),
            "estimate_bytes": super::jobs::estimate(pipeline, &run.name),
        });
        write_json_atomic(&dir.summary(), &summary)
            .map_err(|e| ExecError::write(dir.summary(), e))?;
    }
    Ok(RunOutcome {
        name: run.name.clone(),
        dir: dir.root().to_path_buf(),
        skipped: false,
        interrupted,
        timed_out,
    })
}

/// The `export` stage: the adapter (and with `merge`, the merged weights in `merged/`) under the
/// export path, one subdirectory per run when the pipeline sweeps, so runs never overwrite each other.
fn export_adapter(
    export: &ir::Export,
    pipeline: &ir::Pipeline,
    run: &str,
    adapter: &Path,
    model: &Path,
) -> Result<(), ExecError> {
    let out = if pipeline.runs.len() > 1 {
        export.path.join(super::rundir::sanitize(run))
    } else {
        export.path.clone()
    };
    log(format!(
        "export: {}",
        crate::train::export::export(adapter, None, false, &out)?
    ));
    if export.merge {
        log(format!(
            "export: {}",
            crate::train::export::export(adapter, Some(model), true, &out.join("merged"))?
        ));
    }
    Ok(())
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

/// `1h02m`, `3m05s` or `12s`.
fn format_eta(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
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
