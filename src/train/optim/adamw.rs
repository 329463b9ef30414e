//! AdamW with decoupled weight decay, operation for operation as `torch.optim.AdamW`.
//!
//! torch's single-tensor path (the CPU default, `amsgrad=False`, `maximize=False`):
//! ```text
//! step += 1
//! p *= 1 - lr * wd                                   # decoupled decay, before the moments
//! m.lerp_(g, 1 - b1)                                 # m + (1 - b1) * (g - m)
//! v = v * b2 + (1 - b2) * g * g
//! step_size = lr / (1 - b1^step)
//! denom = sqrt(v) / sqrt(1 - b2^step) + eps          # eps after the bias-corrected sqrt
//! p -= step_size * m / denom
//! ```
//! Scalars are formed in f64 (as Python floats) and applied as f32, like torch's scalar args.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::train::error::TrainError;

/// AdamW hyperparameters (torch defaults except `weight_decay`, which HF and LitGPT set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the bias-corrected RMS.
    pub eps: f64,
    /// Decoupled weight decay coefficient.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

impl AdamWConfig {
    /// Rejects betas outside [0, 1) and negative eps or decay.
    pub fn validate(&self) -> Result<(), TrainError> {
        for (field, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(TrainError::config(
                    field,
                    format!("must be in [0, 1), got {b}"),
                ));
            }
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(TrainError::config(
                "eps",
                format!("must be >= 0, got {}", self.eps),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(TrainError::config(
                "weight_decay",
                format!("must be >= 0, got {}", self.weight_decay),
            ));
        }
        Ok(())
    }
}

/// The per-parameter AdamW state (torch's `exp_avg`, `exp_avg_sq`, `step`).
#[derive(Clone, Debug)]
pub struct AdamWState {
    /// Updates applied to this parameter so far.
    pub step: u64,
    /// First moment, flattened.
    pub exp_avg: Tensor<1>,
    /// Second moment, flattened.
    pub exp_avg_sq: Tensor<1>,
}

/// One AdamW update of a flattened parameter; creates the state on first use.
pub fn adamw_update(
    cfg: &AdamWConfig,
    state: &mut Option<AdamWState>,
    param: Tensor<1>,
    grad: Tensor<1>,
    lr: f64,
) -> Tensor<1> {
    let st = state.get_or_insert_with(|| AdamWState {
        step: 0,
        exp_avg: grad.zeros_like(),
        exp_avg_sq: grad.zeros_like(),
    });
    st.step += 1;
    // 1. decoupled weight decay
    let param = if cfg.weight_decay != 0.0 {
        param.mul_scalar(1.0 - lr * cfg.weight_decay)
    } else {
        param
    };
    // 2. moments (torch's lerp with weight < 0.5 is `self + w * (end - self)`)
    let m = st.exp_avg.clone();
    let m = m
        .clone()
        .add(grad.clone().sub(m).mul_scalar(1.0 - cfg.beta1));
    let v = st
        .exp_avg_sq
        .clone()
        .mul_scalar(cfg.beta2)
        .add(grad.clone().mul_scalar(1.0 - cfg.beta2).mul(grad));
    // 3. bias corrections in f64, as Python computes them
    let t = st.step as i32;
    let bc1 = 1.0 - cfg.beta1.powi(t);
    let bc2 = 1.0 - cfg.beta2.powi(t);
    let step_size = lr / bc1;
    let denom = v.clone().sqrt().div_scalar(bc2.sqrt()).add_scalar(cfg.eps);
    let param = param.sub(m.clone().div(denom).mul_scalar(step_size));
    st.exp_avg = m;
    st.exp_avg_sq = v;
    param
}
