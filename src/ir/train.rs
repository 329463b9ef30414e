//! Training: optimizer, schedule, batching and bookkeeping.

use serde::{Deserialize, Serialize};

use crate::ir::model::Precision;

/// The `train` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Train {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The learning-rate schedule (stepped once per optimizer step).
    pub schedule: Schedule,
    /// Examples per optimizer step.
    pub batch_size: u32,
    /// Examples per forward/backward pass; gradients accumulate over batch/micro passes.
    pub micro_batch_size: u32,
    /// How long to train.
    pub length: Length,
    /// Clip the gradient's global norm to this, if set.
    pub grad_clip: Option<f64>,
    /// Compute precision for training.
    pub precision: Precision,
    /// Seed of initialisation, dropout and data order.
    pub seed: u64,
    /// Validate every N optimizer steps (None: only at the end).
    pub eval_interval: Option<u64>,
    /// Validation batches per evaluation.
    pub eval_iters: u32,
    /// Save a checkpoint every N optimizer steps (None: only at the end).
    pub checkpoint_interval: Option<u64>,
    /// Log every N optimizer steps.
    pub log_interval: u64,
    /// Recompute activations in the backward pass to save memory.
    pub activation_checkpointing: bool,
    /// Stop after this much wall time (seconds), if set.
    pub max_time: Option<f64>,
    /// Write TensorBoard event files in the run directory (left out of the serialized form when
    /// on, so that cache keys and resume fingerprints from before the key existed still match).
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub tensorboard: bool,
}

fn on() -> bool {
    true
}

fn is_on(b: &bool) -> bool {
    *b
}

impl Train {
    /// Micro-batches accumulated per optimizer step.
    pub fn grad_accum(&self) -> u64 {
        u64::from(self.batch_size / self.micro_batch_size.max(1))
    }

    /// Optimizer steps, when the length is given in iterations.
    pub fn optimizer_steps(&self) -> Option<u64> {
        match self.length {
            Length::Iters(iters) => Some(iters / self.grad_accum().max(1)),
            Length::Epochs(_) => None,
        }
    }
}

/// Training length.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Length {
    /// Micro-batch iterations (LitGPT's `max_iters`): optimizer steps × batch/micro.
    Iters(u64),
    /// Passes over the training split.
    Epochs(f64),
}

/// Optimizers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// AdamW with decoupled weight decay.
    AdamW {
        /// Peak learning rate.
        lr: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
        /// (β1, β2).
        betas: (f64, f64),
        /// ε.
        eps: f64,
    },
    /// SGD with optional momentum.
    Sgd {
        /// Peak learning rate.
        lr: f64,
        /// Momentum (0 for none).
        momentum: f64,
        /// L2 weight decay.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
}

impl Optimizer {
    /// The peak learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::AdamW { lr, .. } | Optimizer::Sgd { lr, .. } => *lr,
        }
    }

    /// The surface name.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::AdamW { .. } => "adamw",
            Optimizer::Sgd { .. } => "sgd",
        }
    }
}

/// A learning-rate schedule: linear warmup from 0, then a decay shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Optimizer steps of linear warmup.
    pub warmup_steps: u64,
    /// What follows warmup.
    pub decay: Decay,
}

/// The shape after warmup.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Decay {
    /// Constant at the peak rate.
    Constant,
    /// Linear to `min_lr` at the last step.
    Linear {
        /// Final learning rate.
        min_lr: f64,
    },
    /// Cosine to `min_lr` at the last step.
    Cosine {
        /// Final learning rate.
        min_lr: f64,
    },
}
