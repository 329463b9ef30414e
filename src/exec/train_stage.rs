//! The training stage: the pipeline's `lora` and `train` blocks → `train::fit` settings.

use super::error::ExecError;
use crate::ir;
use crate::train::adapter::AdapterConfig;
use crate::train::batch::Example;
use crate::train::fit::TrainConfig;
use crate::train::optim::{AdamWConfig, OptimizerConfig, SgdConfig};
use crate::train::schedule::{LrSchedule, ScheduleKind};

/// Checkpoints kept on disk: the newest two, so a crash while writing one leaves a good one.
const KEEP_CHECKPOINTS: usize = 2;

/// PEFT's adapter settings for a pipeline's `lora` block.
pub fn adapter_config(lora: &ir::Lora, base_model: &str) -> AdapterConfig {
    let mut modules: Vec<String> = lora
        .targets
        .iter()
        .flat_map(|t| t.hf_modules().iter().map(|m| m.to_string()))
        .collect();
    modules.sort();
    modules.dedup();
    AdapterConfig {
        r: lora.r as usize,
        lora_alpha: lora.alpha,
        lora_dropout: lora.dropout,
        target_modules: modules,
        use_rslora: lora.rslora,
        base_model_name_or_path: Some(base_model.to_string()),
    }
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
