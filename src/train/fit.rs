//! The training loop: batches, accumulation, validation, checkpoints, resume.
//!
//! ```text
//! setup ─ resume? ─┬─> take batch_size examples ─> micro-batches ─> train_step ─┐
//!                  │   (eval every N) (checkpoint every N) (stop flag → checkpoint)
//!                  └──────────────────────────────<───────────────────────────────┘
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::batch::{DataPosition, DataStream, Example, MicroBatch, collate, validate_examples};
use super::checkpoint::{self, Checkpoint, FORMAT_VERSION, TrainerState};
use super::error::TrainError;
use super::loss::{cross_entropy_rows, shifted_targets};
use super::model::{LoraModel, adapter_of, load_adapter_into};
use super::optim::{Optimizer, OptimizerConfig};
use super::rng::TrainRng;
use super::schedule::LrSchedule;
use super::step::{LossNorm, StepOptions, StepStats, ids_tensor, positions_tensor, train_step};

/// Settings of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Learning rate over optimizer steps (its `total_steps` is normally `max_steps`).
    pub schedule: LrSchedule,
    /// Optimizer steps to run.
    pub max_steps: u64,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Examples per forward/backward (batch_size must be a multiple).
    pub micro_batch_size: usize,
    /// Clip the global gradient norm (torch `clip_grad_norm_`).
    pub max_grad_norm: Option<f64>,
    /// How micro-batch losses combine.
    #[serde(default)]
    pub loss_norm: LossNorm,
    /// Seed of data order and dropout.
    pub seed: u64,
    /// Reshuffle the data every epoch.
    pub shuffle: bool,
    /// Token id used for right padding.
    pub pad_id: u32,
    /// Validation loss every N steps (and after the last).
    pub eval_every: Option<u64>,
    /// Checkpoint every N steps (and after the last).
    pub checkpoint_every: Option<u64>,
    /// Checkpoints kept on disk (0 = all).
    pub keep_checkpoints: usize,
    /// Micro-batches of the validation split per periodic evaluation (`None`: all); the one
    /// after the last step always reads the whole split (LitGPT's `eval.max_iters`).
    #[serde(default)]
    pub eval_batches: Option<usize>,
    /// Wall time in seconds after which this process checkpoints and stops, resumable.
    #[serde(default)]
    pub max_time_s: Option<f64>,
}

impl TrainConfig {
    /// Checks sizes, optimizer and schedule.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.micro_batch_size == 0 {
            return Err(TrainError::config("micro_batch_size", "must be at least 1"));
        }
        if self.batch_size == 0 || !self.batch_size.is_multiple_of(self.micro_batch_size) {
            return Err(TrainError::config(
                "batch_size",
                format!(
                    "{} is not a positive multiple of micro_batch_size {}",
                    self.batch_size, self.micro_batch_size
                ),
            ));
        }
        if let Some(c) = self.max_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(TrainError::config(
                "max_grad_norm",
                format!("must be > 0, got {c}"),
            ));
        }
        for (field, v) in [
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            if v == Some(0) {
                return Err(TrainError::config(field, "must be at least 1"));
            }
        }
        self.optimizer.validate()?;
        self.schedule.validate()
    }

    /// Micro-batches per optimizer step.
    pub fn accumulation_steps(&self) -> usize {
        self.batch_size / self.micro_batch_size.max(1)
    }
}

/// Progress reported to the caller (progress bars, `metrics.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An optimizer step finished.
    Step {
        /// Steps completed.
        step: u64,
        /// Step statistics.
        #[serde(flatten)]
        stats: StepStats,
        /// Seconds since this process started training.
        elapsed_s: f64,
    },
    /// Validation loss after `step` steps.
    Eval {
        /// Steps completed.
        step: u64,
        /// Token-mean loss over the validation set.
        val_loss: f32,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Steps completed.
        step: u64,
        /// Its directory.
        path: PathBuf,
    },
    /// A newer checkpoint could not be read; an older one is used instead.
    CheckpointSkipped {
        /// The unreadable checkpoint.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// Training continues from a checkpoint.
    Resumed {
        /// Steps already done.
        step: u64,
        /// The checkpoint.
        path: PathBuf,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOutcome {
    /// Optimizer steps completed (including those before a resume).
    pub steps: u64,
    /// The stop flag or `max_time_s` ended the run early (a checkpoint was written when a root
    /// was given).
    pub interrupted: bool,
    /// It was `max_time_s`.
    pub timed_out: bool,
    /// Newest checkpoint.
    pub last_checkpoint: Option<PathBuf>,
    /// Loss of the last step.
    pub last_loss: Option<f32>,
    /// Last validation loss.
    pub last_val_loss: Option<f32>,
    /// Lowest validation loss.
    pub best_val_loss: Option<f32>,
}

/// The first `cfg.eval_batches` micro-batches of `val` (all of it when unset).
fn first_batches<'a>(val: &'a [Example], cfg: &TrainConfig) -> &'a [Example] {
    let n = cfg
        .eval_batches
        .map_or(val.len(), |b| b.saturating_mul(cfg.micro_batch_size.max(1)));
    &val[..n.min(val.len())]
}

/// Where checkpoints go and whether to continue from them.
#[derive(Clone, Debug, Default)]
pub struct CheckpointPlan {
    /// Checkpoint root (`None`: no checkpoints, no resume).
    pub root: Option<PathBuf>,
    /// Continue from the newest checkpoint under `root` when there is one.
    pub resume: bool,
}

/// A hash of everything that must not change between a run and its resumption.
pub fn fingerprint(
    cfg: &TrainConfig,
    train: &[Example],
    adapter_cfg: &serde_json::Value,
) -> String {
    let mut h = Sha256::new();
    let mut fixed = cfg.clone();
    // Reporting cadence may change on resume; what is computed may not.
    fixed.eval_every = None;
    fixed.checkpoint_every = None;
    fixed.keep_checkpoints = 0;
    fixed.eval_batches = None;
    fixed.max_time_s = None;
    h.update(serde_json::to_vec(&fixed).unwrap_or_default());
    h.update(serde_json::to_vec(adapter_cfg).unwrap_or_default());
    h.update((train.len() as u64).to_le_bytes());
    for ex in train {
        h.update((ex.input_ids.len() as u64).to_le_bytes());
        for t in &ex.input_ids {
            h.update(t.to_le_bytes());
        }
        for l in &ex.labels {
            h.update(l.to_le_bytes());
        }
    }
    format!("{:x}", h.finalize())
}

/// Token-mean loss of `model` over `examples`, in micro-batches, without gradients.
pub fn evaluate<M: LoraModel + ?Sized>(
    model: &M,
    examples: &[Example],
    micro_batch_size: usize,
    pad_id: u32,
) -> Result<Option<f32>, TrainError> {
    let device = model.device();
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for chunk in examples.chunks(micro_batch_size.max(1)) {
        let refs: Vec<&Example> = chunk.iter().collect();
        let mb = collate(&refs, pad_id);
        if mb.n_targets == 0 {
            continue;
        }
        let st = shifted_targets(&mb);
        let logits = model.forward_positions(
            ids_tensor(&mb, &device),
            positions_tensor(&st, &device),
            false,
        )?;
        let s = cross_entropy_rows(logits.detach(), &st)?
            .try_into_vec_as::<f32>()
            .map_err(|e| TrainError::Device {
                name: "val_loss".into(),
                reason: format!("{e:?}"),
            })?;
        sum += s.first().copied().map(f64::from).unwrap_or(0.0);
        count += mb.n_targets;
    }
    Ok((count > 0).then(|| (sum / count as f64) as f32))
}

struct RunState {
    step: u64,
    rng: TrainRng,
    optimizer: Optimizer,
    pos: DataPosition,
    tokens_seen: u64,
    last_loss: Option<f32>,
    best_val_loss: Option<f32>,
}

fn write_checkpoint<M: LoraModel + ?Sized>(
    model: &M,
    root: &Path,
    cfg: &TrainConfig,
    fp: &str,
    s: &RunState,
) -> Result<PathBuf, TrainError> {
    let (optimizer, optimizer_steps) = s.optimizer.state_tensors()?;
    let ckpt = Checkpoint {
        adapter: adapter_of(model)?,
        optimizer,
        state: TrainerState {
            format_version: FORMAT_VERSION,
            step: s.step,
            data: s.pos,
            rng: s.rng.clone(),
            optimizer: cfg.optimizer.clone(),
            optimizer_steps,
            schedule: cfg.schedule.clone(),
            fingerprint: fp.to_string(),
            tokens_seen: s.tokens_seen,
            last_loss: s.last_loss,
            best_val_loss: s.best_val_loss,
        },
    };
    checkpoint::save(root, &ckpt, cfg.keep_checkpoints)
}

/// Trains `model` on `train` for `cfg.max_steps` optimizer steps.
///
/// Validation runs every `eval_every` steps on `val`; checkpoints go under `plan.root` every
/// `checkpoint_every` steps and at the end; with `plan.resume` the newest checkpoint is loaded
/// first and the run continues exactly where it stopped. Setting `stop` (Ctrl-C) ends the run
/// after the current step with a checkpoint. Every event is passed to `on_event`.
pub fn fit<M: LoraModel + ?Sized>(
    model: &mut M,
    train: &[Example],
    val: &[Example],
    cfg: &TrainConfig,
    plan: &CheckpointPlan,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&Event),
) -> Result<FitOutcome, TrainError> {
    // 1. setup: validate settings and data
    cfg.validate()?;
    if train.is_empty() {
        return Err(TrainError::Example {
            index: 0,
            reason: "the training set is empty".into(),
        });
    }
    validate_examples(train, model.vocab_size())?;
    validate_examples(val, model.vocab_size())?;
    let fp = fingerprint(cfg, train, &model.adapter_config().to_json());
    let mut s = RunState {
        step: 0,
        rng: TrainRng::new(cfg.seed),
        optimizer: Optimizer::new(cfg.optimizer.clone()),
        pos: DataPosition::default(),
        tokens_seen: 0,
        last_loss: None,
        best_val_loss: None,
    };
    let mut last_checkpoint = None;

    // 2. resume from the newest checkpoint
    if let (Some(root), true) = (&plan.root, plan.resume)
        && let Some(newest) = checkpoint::load_newest(root)?
    {
        for (path, reason) in newest.skipped {
            on_event(&Event::CheckpointSkipped { path, reason });
        }
        let (dir, ckpt) = (newest.dir, newest.checkpoint);
        if ckpt.state.fingerprint != fp {
            return Err(TrainError::ResumeMismatch {
                path: dir,
                reason: "the settings, LoRA configuration or training data differ".into(),
            });
        }
        load_adapter_into(model, &ckpt.adapter)?;
        s.optimizer = Optimizer::from_state(
            cfg.optimizer.clone(),
            &ckpt.optimizer,
            &ckpt.state.optimizer_steps,
            &model.device(),
        )?;
        s.step = ckpt.state.step;
        s.rng = ckpt.state.rng;
        s.pos = ckpt.state.data;
        s.tokens_seen = ckpt.state.tokens_seen;
        s.last_loss = ckpt.state.last_loss;
        s.best_val_loss = ckpt.state.best_val_loss;
        on_event(&Event::Resumed {
            step: s.step,
            path: dir.clone(),
        });
        last_checkpoint = Some(dir);
    }

    // 3. the loop
    let mut stream = DataStream::new(train.len(), cfg.seed, cfg.shuffle, s.pos);
    let started = Instant::now();
    let mut last_val_loss = None;
    let mut interrupted = false;
    let mut timed_out = false;
    while s.step < cfg.max_steps {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        // Checked between steps, like the stop flag: a step in flight always completes.
        if cfg
            .max_time_s
            .is_some_and(|t| started.elapsed().as_secs_f64() >= t)
        {
            (interrupted, timed_out) = (true, true);
            break;
        }
        let idx = stream.take(cfg.batch_size);
        let micro: Vec<MicroBatch> = idx
            .chunks(cfg.micro_batch_size)
            .map(|c| {
                let refs: Vec<&Example> = c.iter().filter_map(|&i| train.get(i)).collect();
                collate(&refs, cfg.pad_id)
            })
            .collect();
        let opts = StepOptions {
            lr: cfg.schedule.lr(s.step),
            max_grad_norm: cfg.max_grad_norm,
            norm: cfg.loss_norm,
            step: s.step + 1,
        };
        let stats = match train_step(model, &mut s.optimizer, &micro, &opts, Some(&mut s.rng)) {
            Ok(stats) => stats,
            Err(TrainError::NonFinite {
                step, what, value, ..
            }) => {
                return Err(TrainError::NonFinite {
                    step,
                    what,
                    value,
                    last_good: last_checkpoint,
                });
            }
            Err(e) => return Err(e),
        };
        s.step += 1;
        s.pos = stream.position();
        s.tokens_seen += stats.tokens as u64;
        s.last_loss = Some(stats.loss);
        on_event(&Event::Step {
            step: s.step,
            stats,
            elapsed_s: started.elapsed().as_secs_f64(),
        });
        let last = s.step == cfg.max_steps;
        // 4. periodic validation
        if !val.is_empty()
            && (last || cfg.eval_every.is_some_and(|n| s.step.is_multiple_of(n)))
            && let Some(v) = evaluate(
                model,
                if last { val } else { first_batches(val, cfg) },
                cfg.micro_batch_size,
                cfg.pad_id,
            )?
        {
            s.best_val_loss = Some(s.best_val_loss.map_or(v, |b| b.min(v)));
            last_val_loss = Some(v);
            on_event(&Event::Eval {
                step: s.step,
                val_loss: v,
            });
        }
        // 5. periodic checkpoint
        if let Some(root) = &plan.root
            && (last
                || cfg
                    .checkpoint_every
                    .is_some_and(|n| s.step.is_multiple_of(n)))
        {
            let dir = write_checkpoint(model, root, cfg, &fp, &s)?;
            on_event(&Event::Checkpoint {
                step: s.step,
                path: dir.clone(),
            });
            last_checkpoint = Some(dir);
        }
    }
    if interrupted && let Some(root) = &plan.root {
        let already = last_checkpoint
            .as_ref()
            .is_some_and(|p| p.ends_with(checkpoint::step_dir_name(s.step)));
        if !already {
            let dir = write_checkpoint(model, root, cfg, &fp, &s)?;
            on_event(&Event::Checkpoint {
                step: s.step,
                path: dir.clone(),
            });
            last_checkpoint = Some(dir);
        }
    }
    Ok(FitOutcome {
        steps: s.step,
        interrupted,
        timed_out,
        last_checkpoint,
        last_loss: s.last_loss,
        last_val_loss,
        best_val_loss: s.best_val_loss,
    })
}
