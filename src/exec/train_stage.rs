//! The training stage: the pipeline's `lora` and `train` blocks → `train::fit` settings.

use super::error::ExecError;
use crate::ir;
use crate::train::adapter::{Adapter, AdapterConfig};
use crate::train::batch::Example;
use crate::train::fit::TrainConfig;
use crate::train::llama::LlamaLora;
use crate::train::model::load_adapter_into;
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

/// The adapter a run starts from: PEFT's fresh initialisation (drawn from `device`'s generator,
/// which the caller seeds), or the tensors of the PEFT adapter `lora.init = peft(dir)` names. The
/// `lora` block still defines the adapter, so a directory whose rank, alpha, scaling or targets
/// differ is refused rather than silently reshaping the run.
pub fn init_adapter(
    base: crate::nn::Llama,
    lora: &ir::Lora,
    config: AdapterConfig,
    device: &burn::tensor::Device,
) -> Result<LlamaLora, ExecError> {
    let ir::LoraInit::Peft(dir) = &lora.init else {
        return Ok(LlamaLora::new(base, config, device)?);
    };
    let adapter = Adapter::load(dir)?;
    let theirs = &adapter.config;
    let mut differ = Vec::new();
    if theirs.r != config.r {
        differ.push(format!(
            "r = {} (the lora block says {})",
            theirs.r, config.r
        ));
    }
    if theirs.lora_alpha != config.lora_alpha {
        let (a, b) = (theirs.lora_alpha, config.lora_alpha);
        differ.push(format!("alpha = {a} (the lora block says {b})"));
    }
    if theirs.use_rslora != config.use_rslora {
        differ.push(format!("use_rslora = {}", theirs.use_rslora));
    }
    let mut their_modules = theirs.target_modules.clone();
    their_modules.sort();
    if their_modules != config.target_modules {
        differ.push(format!(
            "targets {} (the lora block gives {})",
            their_modules.join(", "),
            config.target_modules.join(", ")
        ));
    }
    if !differ.is_empty() {
        return Err(ExecError::Unsupported {
            what: format!(
                "the adapter in {} does not match the lora block: {}",
                dir.display(),
                differ.join("; ")
            ),
            help: "set the lora block's r, alpha, rslora and targets to the adapter's \
                   (its adapter_config.json), or start from `init = default`"
                .into(),
        });
    }
    // The block's dropout applies: it is a training setting, not part of the weights.
    let mut model = LlamaLora::new(base, config, device)?;
    load_adapter_into(&mut model, &adapter)?;
    Ok(model)
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
