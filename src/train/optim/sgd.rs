//! SGD with momentum, operation for operation as `torch.optim.SGD`.
//!
//! ```text
//! g = g + wd * p                                  # coupled (L2) weight decay
//! buf = g                      on the first step  # torch clones the gradient
//! buf = momentum * buf + (1 - dampening) * g      afterwards
//! g = g + momentum * buf  if nesterov  else  buf
//! p -= lr * g
//! ```

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::train::error::TrainError;

/// SGD hyperparameters (torch's names and defaults).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    /// Momentum factor (0 disables the buffer).
    pub momentum: f64,
    /// Dampening of the gradient added to the buffer.
    #[serde(default)]
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0, as torch requires).
    #[serde(default)]
    pub nesterov: bool,
    /// L2 penalty added to the gradient.
    #[serde(default)]
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Rejects the combinations torch rejects.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.momentum.is_finite() && self.momentum >= 0.0) {
            return Err(TrainError::config(
                "momentum",
                format!("must be >= 0, got {}", self.momentum),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(TrainError::config(
                "weight_decay",
                format!("must be >= 0, got {}", self.weight_decay),
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(TrainError::config(
                "nesterov",
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
    }
}

/// The per-parameter SGD state (torch's `momentum_buffer`).
#[derive(Clone, Debug)]
pub struct SgdState {
    /// Updates applied to this parameter so far.
    pub step: u64,
    /// Momentum buffer, flattened (absent while momentum is 0).
    pub momentum_buffer: Option<Tensor<1>>,
}

/// One SGD update of a flattened parameter; creates the state on first use.
pub fn sgd_update(
    cfg: &SgdConfig,
    state: &mut Option<SgdState>,
    param: Tensor<1>,
    grad: Tensor<1>,
    lr: f64,
) -> Tensor<1> {
    let st = state.get_or_insert_with(|| SgdState {
        step: 0,
        momentum_buffer: None,
    });
    st.step += 1;
    let mut g = grad;
    if cfg.weight_decay != 0.0 {
        g = g.add(param.clone().mul_scalar(cfg.weight_decay));
    }
    if cfg.momentum != 0.0 {
        let buf = match st.momentum_buffer.take() {
            None => g.clone(),
            Some(b) => b
                .mul_scalar(cfg.momentum)
                .add(g.clone().mul_scalar(1.0 - cfg.dampening)),
        };
        g = if cfg.nesterov {
            g.add(buf.clone().mul_scalar(cfg.momentum))
        } else {
            buf.clone()
        };
        st.momentum_buffer = Some(buf);
    }
    param.sub(g.mul_scalar(lr))
}
