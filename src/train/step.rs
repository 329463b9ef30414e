//! One optimizer step: forward and backward over micro-batches, gradient accumulation,
//! clipping and the update of every LoRA tensor.

use std::collections::BTreeMap;

use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::batch::MicroBatch;
use super::clip::{clip_grad_norm, global_norm};
use super::error::TrainError;
use super::loss::{ShiftedTargets, cross_entropy_rows, shifted_targets};
use super::model::LoraModel;
use super::optim::Optimizer;
use super::rng::TrainRng;

/// How micro-batch losses combine into the loss of an optimizer step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossNorm {
    /// Sum of token losses over the whole batch divided by its target count (HF Trainer with
    /// `num_items_in_batch`): gradients equal those of the batch taken at once.
    #[default]
    TokenMean,
    /// Mean token loss of each micro-batch divided by the number of micro-batches (LitGPT).
    MicroBatchMean,
}

/// Gradients by tensor name.
pub type Grads = BTreeMap<String, Tensor<2>>;

/// The loss and accumulated gradients of one batch.
#[derive(Debug)]
pub struct BatchGrads {
    /// The batch loss (as [`LossNorm`] defines it).
    pub loss: f32,
    /// d loss / d tensor for every LoRA tensor that received a gradient.
    pub grads: Grads,
    /// Loss-bearing targets in the batch.
    pub targets: usize,
    /// Tokens fed to the model (padding included).
    pub tokens: usize,
}

fn read_scalar(name: &str, t: Tensor<1>) -> Result<f32, TrainError> {
    t.try_into_vec_as::<f32>()
        .map_err(|e| TrainError::Device {
            name: name.to_string(),
            reason: format!("{e:?}"),
        })?
        .first()
        .copied()
        .ok_or_else(|| TrainError::Device {
            name: name.to_string(),
            reason: "empty tensor".into(),
        })
}

/// The token ids of a micro-batch as a `[batch, seq]` tensor on `device`.
pub fn ids_tensor(mb: &MicroBatch, device: &burn::tensor::Device) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_data(
        TensorData::new(mb.input_ids.clone(), [mb.batch, mb.seq]),
        device,
    )
}

/// The loss-bearing flat positions of a micro-batch as a tensor on `device`.
pub fn positions_tensor(st: &ShiftedTargets, device: &burn::tensor::Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(
        TensorData::new(st.positions.clone(), [st.positions.len()]),
        device,
    )
}

/// Forward and backward over each micro-batch, summing gradients. When `rng` is given, the
/// device is reseeded from it before each forward so dropout masks replay exactly on resume.
pub fn accumulate_grads<M: LoraModel + ?Sized>(
    model: &M,
    micro_batches: &[MicroBatch],
    norm: LossNorm,
    mut rng: Option<&mut TrainRng>,
) -> Result<BatchGrads, TrainError> {
    let total: usize = micro_batches.iter().map(|m| m.n_targets).sum();
    let non_empty = micro_batches.iter().filter(|m| m.n_targets > 0).count();
    let tokens = micro_batches.iter().map(|m| m.batch * m.seq).sum();
    let device = model.device();
    let params = model.lora_tensors();
    let mut acc: Grads = BTreeMap::new();
    let mut loss = 0.0f64;
    for mb in micro_batches {
        if let Some(r) = rng.as_deref_mut() {
            device.seed(r.next_u64());
        }
        if mb.n_targets == 0 {
            continue;
        }
        let st = shifted_targets(mb);
        let logits = model.forward_positions(
            ids_tensor(mb, &device),
            positions_tensor(&st, &device),
            true,
        )?;
        let sum = cross_entropy_rows(logits, &st)?;
        // 1. scale so the gradients add up to those of the step's loss
        let scaled = match norm {
            LossNorm::TokenMean => sum.div_scalar(total as f64),
            LossNorm::MicroBatchMean => sum
                .div_scalar(mb.n_targets as f64)
                .div_scalar(non_empty as f64),
        };
        loss += f64::from(read_scalar("loss", scaled.clone().detach())?);
        // 2. backward and collect the LoRA gradients by name
        let mut grads = scaled.backward();
        for (name, p) in &params {
            if let Some(g) = p.grad_remove(&mut grads) {
                let g = match acc.remove(name) {
                    Some(prev) => prev.add(g),
                    None => g,
                };
                acc.insert(name.clone(), g);
            }
        }
    }
    Ok(BatchGrads {
        loss: loss as f32,
        grads: acc,
        targets: total,
        tokens,
    })
}

/// What one optimizer step did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Batch loss before the update.
    pub loss: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
    /// Learning rate used.
    pub lr: f64,
    /// Loss-bearing targets.
    pub targets: usize,
    /// Tokens processed (padding included).
    pub tokens: usize,
}

/// Applies the optimizer to every tensor that has a gradient.
pub fn apply_update<M: LoraModel + ?Sized>(
    model: &mut M,
    optimizer: &mut Optimizer,
    grads: Grads,
    lr: f64,
) -> Result<(), TrainError> {
    let params: BTreeMap<String, Tensor<2>> = model.lora_tensors().into_iter().collect();
    for (name, g) in grads {
        let Some(p) = params.get(&name) else {
            return Err(TrainError::Model {
                reason: format!("gradient for unknown tensor `{name}`"),
            });
        };
        let updated = optimizer.update(&name, p.clone().inner(), g, lr);
        model.set_lora_tensor(&name, updated)?;
    }
    Ok(())
}

/// Per-step settings of [`train_step`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOptions {
    /// Learning rate of this update.
    pub lr: f64,
    /// Clip the global gradient norm to this value.
    pub max_grad_norm: Option<f64>,
    /// How micro-batch losses combine.
    pub norm: LossNorm,
    /// The 1-based index of this optimizer step (for diagnostics).
    pub step: u64,
}

/// One full optimizer step. A non-finite loss or gradient norm leaves the model untouched and
/// returns [`TrainError::NonFinite`] (the caller fills in the last good checkpoint).
pub fn train_step<M: LoraModel + ?Sized>(
    model: &mut M,
    optimizer: &mut Optimizer,
    micro_batches: &[MicroBatch],
    opts: &StepOptions,
    rng: Option<&mut TrainRng>,
) -> Result<StepStats, TrainError> {
    let BatchGrads {
        loss,
        mut grads,
        targets,
        tokens,
    } = accumulate_grads(model, micro_batches, opts.norm, rng)?;
    let non_finite = |what, value| TrainError::NonFinite {
        step: opts.step,
        what,
        value,
        last_good: None,
    };
    if !loss.is_finite() {
        return Err(non_finite("loss", loss));
    }
    let grad_norm = match opts.max_grad_norm {
        Some(max) => clip_grad_norm(&mut grads, max)?,
        None => global_norm(&grads)?,
    };
    if !grad_norm.is_finite() {
        return Err(non_finite("gradient norm", grad_norm));
    }
    apply_update(model, optimizer, grads, opts.lr)?;
    Ok(StepStats {
        loss,
        grad_norm,
        lr: opts.lr,
        targets,
        tokens,
    })
}
