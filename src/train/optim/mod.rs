//! Optimizers over named parameters, with state that checkpoints losslessly.
//!
//! Updates are element-wise, so each parameter is flattened to rank 1 for the update and its
//! state; [`Optimizer::update`] restores the parameter's shape.

mod adamw;
mod sgd;

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use adamw::{AdamWConfig, AdamWState, adamw_update};
pub use sgd::{SgdConfig, SgdState, sgd_update};

use super::error::TrainError;
use super::tensors::{HostTensor, NamedTensors};

/// Which optimizer, with its hyperparameters (the learning rate comes from the schedule).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// `torch.optim.AdamW`.
    AdamW(AdamWConfig),
    /// `torch.optim.SGD`.
    Sgd(SgdConfig),
}

impl OptimizerConfig {
    /// Checks the hyperparameters.
    pub fn validate(&self) -> Result<(), TrainError> {
        match self {
            OptimizerConfig::AdamW(c) => c.validate(),
            OptimizerConfig::Sgd(c) => c.validate(),
        }
    }
}

// One value per parameter, never in a hot collection: boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum ParamState {
    AdamW(Option<AdamWState>),
    Sgd(Option<SgdState>),
}

/// An optimizer and its per-parameter state, keyed by parameter name.
#[derive(Clone, Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    state: BTreeMap<String, (Vec<usize>, ParamState)>,
}

/// Per-parameter step counters, saved beside the moment tensors.
pub type StepCounts = BTreeMap<String, u64>;

impl Optimizer {
    /// A fresh optimizer (state is created on each parameter's first update, as in torch).
    pub fn new(config: OptimizerConfig) -> Self {
        Optimizer {
            config,
            state: BTreeMap::new(),
        }
    }

    /// The hyperparameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Applies one update to `param` with gradient `grad` at learning rate `lr`.
    pub fn update<const D: usize>(
        &mut self,
        name: &str,
        param: Tensor<D>,
        grad: Tensor<D>,
        lr: f64,
    ) -> Tensor<D> {
        let dims = param.dims();
        let n: usize = dims.iter().product();
        let flat_p = param.reshape([n]);
        let flat_g = grad.reshape([n]);
        let entry = self.state.entry(name.to_string()).or_insert_with(|| {
            let st = match self.config {
                OptimizerConfig::AdamW(_) => ParamState::AdamW(None),
                OptimizerConfig::Sgd(_) => ParamState::Sgd(None),
            };
            (dims.to_vec(), st)
        });
        let out = match (&self.config, &mut entry.1) {
            (OptimizerConfig::AdamW(c), ParamState::AdamW(s)) => {
                adamw_update(c, s, flat_p, flat_g, lr)
            }
            (OptimizerConfig::Sgd(c), ParamState::Sgd(s)) => sgd_update(c, s, flat_p, flat_g, lr),
            // The state kind always follows the config (both are fixed at construction).
            (_, _) => flat_p,
        };
        out.reshape(dims)
    }

    /// The state as named tensors (`exp_avg.<param>`, `exp_avg_sq.<param>`,
    /// `momentum_buffer.<param>`, in the parameter's shape) and step counts.
    pub fn state_tensors(&self) -> Result<(NamedTensors, StepCounts), TrainError> {
        let mut tensors = NamedTensors::new();
        let mut steps = StepCounts::new();
        for (name, (shape, st)) in &self.state {
            let mut put = |prefix: &str, t: &Tensor<1>| -> Result<(), TrainError> {
                let key = format!("{prefix}.{name}");
                let mut h = HostTensor::from_tensor(&key, t.clone())?;
                h.shape = shape.clone();
                tensors.insert(key, h);
                Ok(())
            };
            match st {
                ParamState::AdamW(Some(s)) => {
                    put("exp_avg", &s.exp_avg)?;
                    put("exp_avg_sq", &s.exp_avg_sq)?;
                    steps.insert(name.clone(), s.step);
                }
                ParamState::Sgd(Some(s)) => {
                    if let Some(b) = &s.momentum_buffer {
                        put("momentum_buffer", b)?;
                    }
                    steps.insert(name.clone(), s.step);
                }
                ParamState::AdamW(None) | ParamState::Sgd(None) => {}
            }
        }
        Ok((tensors, steps))
    }

    /// Rebuilds an optimizer from [`Optimizer::state_tensors`] output.
    pub fn from_state(
        config: OptimizerConfig,
        tensors: &NamedTensors,
        steps: &StepCounts,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut opt = Optimizer::new(config);
        let get = |prefix: &str, name: &str| -> Result<(Vec<usize>, Tensor<1>), TrainError> {
            let key = format!("{prefix}.{name}");
            let h = tensors
                .get(&key)
                .ok_or_else(|| TrainError::AdapterMismatch {
                    reason: format!("optimizer state has no tensor `{key}`"),
                })?;
            let flat = HostTensor::new(vec![h.data.len()], h.data.clone());
            Ok((h.shape.clone(), flat.to_tensor::<1>(&key, device)?))
        };
        for (name, &step) in steps {
            let entry = match &opt.config {
                OptimizerConfig::AdamW(_) => {
                    let (shape, exp_avg) = get("exp_avg", name)?;
                    let (_, exp_avg_sq) = get("exp_avg_sq", name)?;
                    (
                        shape,
                        ParamState::AdamW(Some(AdamWState {
                            step,
                            exp_avg,
                            exp_avg_sq,
                        })),
                    )
                }
                OptimizerConfig::Sgd(c) => {
                    let (shape, buf) = if c.momentum != 0.0 {
                        let (s, b) = get("momentum_buffer", name)?;
                        (s, Some(b))
                    } else {
                        (Vec::new(), None)
                    };
                    (
                        shape,
                        ParamState::Sgd(Some(SgdState {
                            step,
                            momentum_buffer: buf,
                        })),
                    )
                }
            };
            opt.state.insert(name.clone(), entry);
        }
        Ok(opt)
    }
}

#[cfg(test)]
mod tests;
