//! The `train` stage: the adapters trained on the tokenized data, checkpointed and resumable,
//! then saved in PEFT's format in the run directory.

use std::rc::Rc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::lora::Adapted;
use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::ir;
use crate::train::batch::Example;
use crate::train::fit::TrainConfig;
use crate::train::model::adapter_of;
use crate::train::optim::{AdamWConfig, OptimizerConfig, SgdConfig};
use crate::train::schedule::{LrSchedule, ScheduleKind};
use crate::train::{CheckpointPlan, Event, fit};

/// Checkpoints kept on disk: the newest two, so a crash while writing one leaves a good one.
const KEEP_CHECKPOINTS: usize = 2;

/// Trains the run's adapters.
pub struct TrainStage<'a> {
    /// The `train` block.
    pub train: &'a ir::Train,
}

impl Stage for TrainStage<'_> {
    fn settings(&self) -> String {
        serde_json::to_string(self.train).unwrap_or_default()
    }

    fn run(&self, cx: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError> {
        let adapted = inputs
            .0
            .iter()
            .find_map(|a| match a {
                Artifact::Adapter(a) => Some(a.clone()),
                _ => None,
            })
            .ok_or_else(|| super::missing("adapters"))?;
        let data = inputs
            .tokenized()
            .ok_or_else(|| super::missing("tokenized data"))?;
        drop(inputs);
        let Adapted { mut model, base } = Rc::try_unwrap(adapted).unwrap_or_else(|a| (*a).clone());
        let train = self.train;
        let train_examples = examples(data.prepared.train());
        let val_examples = examples(data.prepared.validation());
        let steps = optimizer_steps(train, train_examples.len());
        let pad = base.tokenizer.eos_id().unwrap_or(0);
        let tcfg = config(train, steps, pad)?;
        log(format!(
            "train: {steps} optimizer steps, batch {} (micro {})",
            train.batch_size, train.micro_batch_size
        ));
        let bar = progress_bar(steps, cx.progress);
        let t = Instant::now();
        let (mut first_step, mut tokens_seen) = (None, 0u64);
        let dir = cx.dir.clone();
        let mut board = super::tensorboard::Board::open(train.tensorboard, dir.root());
        let mut metrics_failed = false;
        let mut on_event = |event: &Event| {
            // Training goes on without its log (the checkpoints are what resume needs), but the
            // loss of it is said, once.
            if let Err(e) = dir.append_metric(&serde_json::to_value(event).unwrap_or_default())
                && !std::mem::replace(&mut metrics_failed, true)
            {
                log(format!(
                    "warning: cannot append to {}: {e}; training continues, but this and later \
                     metrics lines are not written",
                    dir.metrics().display()
                ));
            }
            match event {
                Event::Step {
                    step,
                    stats,
                    elapsed_s,
                } => {
                    let seen = tokens_seen + stats.tokens as u64;
                    board.scalars(
                        *step,
                        &[
                            ("train/loss", f64::from(stats.loss)),
                            ("train/lr", stats.lr),
                            ("train/grad_norm", f64::from(stats.grad_norm)),
                            ("train/tokens_per_s", seen as f64 / elapsed_s.max(1e-9)),
                        ],
                    );
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
                    board.scalars(*step, &[("val/loss", f64::from(*val_loss))]);
                    bar.println(format!("step {step}: validation loss {val_loss:.4}"))
                }
                Event::CheckpointSkipped { path, reason } => {
                    let line = format!(
                        "lpipe: warning: checkpoint {} is unreadable ({reason}); resuming from \
                         the one before it",
                        path.display()
                    );
                    match bar.is_hidden() {
                        true => eprintln!("{line}"),
                        false => bar.println(line),
                    }
                }
                Event::Resumed { step, path } => {
                    bar.println(format!("resumed at step {step} from {}", path.display()))
                }
                Event::Checkpoint { .. } => {}
            }
        };
        let plan = CheckpointPlan {
            root: Some(cx.dir.checkpoints()),
            resume: true,
        };
        let outcome = fit(
            &mut model,
            &train_examples,
            &val_examples,
            &tcfg,
            &plan,
            cx.stop,
            &mut on_event,
        )?;
        bar.finish_and_clear();
        let trainable = super::lora::trainable(&model);
        cx.summary.insert(
            "train".into(),
            json!({
                "steps": outcome.steps,
                "optimizer_steps_planned": steps,
                "trainable_params": trainable,
                "last_loss": outcome.last_loss,
                "last_val_loss": outcome.last_val_loss,
                "best_val_loss": outcome.best_val_loss,
                "wall_s": t.elapsed().as_secs_f64(),
            }),
        );
        if outcome.timed_out {
            log(format!(
                "max_time reached after step {} of {steps}: checkpoint saved; run the same \
                 command to continue",
                outcome.steps
            ));
        } else if outcome.interrupted {
            log(format!(
                "interrupted after step {}: checkpoint saved; run the same command to resume",
                outcome.steps
            ));
        }
        if outcome.interrupted || outcome.timed_out {
            cx.stopped = Some(outcome.timed_out);
            return Ok(Artifact::Stopped);
        }
        adapter_of(&model)?.save(&cx.dir.adapter())?;
        log(format!(
            "train: {} steps in {:.1}s, final loss {:.4}; adapter in {}",
            outcome.steps,
            t.elapsed().as_secs_f64(),
            outcome.last_loss.unwrap_or(f32::NAN),
            cx.dir.adapter().display()
        ));
        Ok(Artifact::Trained(Rc::new(Adapted { model, base })))
    }
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

/// Optimizer steps of a run over `train_examples` examples.
pub fn optimizer_steps(train: &ir::Train, train_examples: usize) -> u64 {
    match train.length {
        ir::Length::Iters(_) => train.optimizer_steps().unwrap_or(0).max(1),
        ir::Length::Epochs(epochs) => {
            let per_epoch = (train_examples as f64 / f64::from(train.batch_size.max(1))).ceil();
            ((per_epoch * epochs).ceil() as u64).max(1)
        }
    }
}

/// `train::fit` settings for a pipeline's `train` block.
pub fn config(train: &ir::Train, steps: u64, pad_id: u32) -> Result<TrainConfig, ExecError> {
    let (optimizer, lr) = match &train.optimizer {
        ir::Optimizer::AdamW {
            lr,
            weight_decay,
            betas,
            eps,
        } => (
            OptimizerConfig::AdamW(AdamWConfig {
                beta1: betas.0,
                beta2: betas.1,
                eps: *eps,
                weight_decay: *weight_decay,
            }),
            *lr,
        ),
        ir::Optimizer::Sgd {
            lr,
            momentum,
            weight_decay,
            nesterov,
        } => (
            OptimizerConfig::Sgd(SgdConfig {
                momentum: *momentum,
                dampening: 0.0,
                nesterov: *nesterov,
                weight_decay: *weight_decay,
            }),
            *lr,
        ),
    };
    let (kind, min_lr) = match train.schedule.decay {
        ir::Decay::Constant => (ScheduleKind::Constant, 0.0),
        ir::Decay::Linear { min_lr } => (ScheduleKind::Linear, min_lr),
        ir::Decay::Cosine { min_lr } => (ScheduleKind::Cosine, min_lr),
    };
    let cfg = TrainConfig {
        optimizer,
        schedule: LrSchedule {
            kind,
            base_lr: lr,
            warmup_steps: train.schedule.warmup_steps,
            total_steps: steps,
            min_lr_ratio: if lr > 0.0 { min_lr / lr } else { 0.0 },
        },
        max_steps: steps,
        batch_size: train.batch_size as usize,
        micro_batch_size: train.micro_batch_size as usize,
        max_grad_norm: train.grad_clip,
        loss_norm: Default::default(),
        seed: train.seed,
        shuffle: true,
        pad_id,
        eval_every: train.eval_interval,
        checkpoint_every: train.checkpoint_interval,
        keep_checkpoints: KEEP_CHECKPOINTS,
        eval_batches: Some(train.eval_iters as usize),
        max_time_s: train.max_time,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Owned training examples from the data stage's view.
pub fn examples<'a>(view: impl Iterator<Item = crate::data::dataset::Example<'a>>) -> Vec<Example> {
    view.map(|e| Example {
        input_ids: e.input_ids.to_vec(),
        labels: e.labels(),
    })
    .collect()
}
