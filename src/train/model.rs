//! What the trainer needs from a LoRA-wrapped model, and moving adapters in and out of one.

use burn::tensor::{Device, Int, Tensor};

use super::adapter::{Adapter, AdapterConfig};
use super::error::TrainError;
use super::tensors::{HostTensor, NamedTensors};

/// A causal LM whose only trainable tensors are LoRA A/B matrices named as PEFT names them
/// (without `base_model.model.`), e.g. `model.layers.0.self_attn.q_proj.lora_A.weight`.
pub trait LoraModel {
    /// The device the model runs on (with autodiff enabled when training).
    fn device(&self) -> Device;

    /// Vocabulary size (the last dimension of the logits).
    fn vocab_size(&self) -> usize;

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]`. With `train` the result must
    /// be tracked so `backward` reaches the LoRA tensors and dropout is active; without it the
    /// forward pass may skip autodiff bookkeeping.
    fn forward(&self, input_ids: Tensor<2, Int>, train: bool) -> Result<Tensor<3>, TrainError>;

    /// Logits `[n, vocab]` of the flat positions `b * seq + t` listed in `positions` only (the
    /// loss-bearing ones). Models override this to skip the output head on prompt and padding
    /// positions; the default computes all logits and selects.
    fn forward_positions(
        &self,
        input_ids: Tensor<2, Int>,
        positions: Tensor<1, Int>,
        train: bool,
    ) -> Result<Tensor<2>, TrainError> {
        let logits = self.forward(input_ids, train)?;
        let [b, s, v] = logits.dims();
        Ok(logits.reshape([b * s, v]).select(0, positions))
    }

    /// The trainable tensors, each the exact autodiff leaf the forward pass uses.
    fn lora_tensors(&self) -> Vec<(String, Tensor<2>)>;

    /// Replaces a trainable tensor with `value` (given without autodiff); the model turns it into
    /// a fresh leaf that requires a gradient.
    fn set_lora_tensor(&mut self, name: &str, value: Tensor<2>) -> Result<(), TrainError>;

    /// The LoRA settings, as written to `adapter_config.json`.
    fn adapter_config(&self) -> AdapterConfig;
}

/// Reads the model's LoRA tensors into a PEFT adapter.
pub fn adapter_of<M: LoraModel + ?Sized>(model: &M) -> Result<Adapter, TrainError> {
    let mut tensors = NamedTensors::new();
    for (name, t) in model.lora_tensors() {
        let h = HostTensor::from_tensor(&name, t.inner())?;
        tensors.insert(name, h);
    }
    Ok(Adapter {
        config: model.adapter_config(),
        tensors,
    })
}

/// Loads adapter weights into the model; names and shapes must match exactly.
pub fn load_adapter_into<M: LoraModel + ?Sized>(
    model: &mut M,
    adapter: &Adapter,
) -> Result<(), TrainError> {
    let ours = model.lora_tensors();
    let mismatch = |reason: String| TrainError::AdapterMismatch { reason };
    if ours.len() != adapter.tensors.len() {
        return Err(mismatch(format!(
            "the model has {} LoRA tensors, the adapter {}",
            ours.len(),
            adapter.tensors.len()
        )));
    }
    let device = model.device();
    for (name, t) in ours {
        let h = adapter
            .tensors
            .get(&name)
            .ok_or_else(|| mismatch(format!("the adapter has no `{name}`")))?;
        if h.shape != t.dims().to_vec() {
            return Err(mismatch(format!(
                "`{name}` is {:?} in the adapter but {:?} in the model",
                h.shape,
                t.dims()
            )));
        }
        let value: Tensor<2> = h.to_tensor(&name, &device)?;
        model.set_lora_tensor(&name, value.inner())?;
    }
    Ok(())
}
