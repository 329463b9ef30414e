//! [`LoraModel`] for the Llama decoder of `nn`: PEFT-named LoRA tensors as autodiff leaves.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor};

use super::adapter::AdapterConfig;
use super::error::TrainError;
use super::model::LoraModel;
use crate::nn::{Llama, LoraConfig};

/// A Llama with LoRA adapters on an autodiff device, ready for [`super::fit`].
#[derive(Debug, Clone)]
pub struct LlamaLora {
    /// The decoder (frozen base, trainable adapters).
    pub model: Llama,
    device: Device,
    config: AdapterConfig,
}

impl LlamaLora {
    /// Adds fresh PEFT-initialised adapters (A Kaiming-uniform, B zero) on `device` for
    /// `config.target_modules`. `device` should have autodiff enabled for training.
    pub fn new(model: Llama, config: AdapterConfig, device: &Device) -> Result<Self, TrainError> {
        let lora = LoraConfig::new(config.r)
            .with_alpha(config.lora_alpha)
            .with_dropout(config.lora_dropout)
            .with_use_rslora(config.use_rslora);
        let targets: Vec<&str> = config.target_modules.iter().map(String::as_str).collect();
        let model = model
            .with_lora(&targets, &lora, device)
            .map_err(|unknown| TrainError::AdapterMismatch {
                reason: format!("unknown LoRA target modules {unknown:?}"),
            })?;
        Ok(LlamaLora {
            model,
            device: device.clone(),
            config,
        })
    }

    /// Continues an existing PEFT adapter (`lora { init = peft("dir") }`): adapters shaped by the
    /// directory's config, with its weights.
    pub fn from_peft(
        model: Llama,
        dir: &std::path::Path,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let adapter = super::adapter::Adapter::load(dir)?;
        let mut m = LlamaLora::new(model, adapter.config.clone(), device)?;
        super::model::load_adapter_into(&mut m, &adapter)?;
        Ok(m)
    }

    /// Wraps a Llama whose adapters already exist (e.g. loaded from a PEFT directory).
    pub fn from_parts(model: Llama, config: AdapterConfig, device: &Device) -> Self {
        LlamaLora {
            model,
            device: device.clone(),
            config,
        }
    }
}

fn split_name(name: &str) -> Option<(&str, bool)> {
    name.strip_suffix(".lora_A.weight")
        .map(|m| (m, true))
        .or_else(|| name.strip_suffix(".lora_B.weight").map(|m| (m, false)))
}

impl LoraModel for LlamaLora {
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn vocab_size(&self) -> usize {
        self.model.config.vocab_size
    }

    fn forward(&self, input_ids: Tensor<2, Int>, train: bool) -> Result<Tensor<3>, TrainError> {
        if train {
            Ok(self.model.forward(input_ids))
        } else {
            // `valid` drops autodiff and turns dropout off for evaluation.
            Ok(self.model.valid().forward(input_ids.without_autodiff()))
        }
    }

    fn forward_positions(
        &self,
        input_ids: Tensor<2, Int>,
        positions: Tensor<1, Int>,
        train: bool,
    ) -> Result<Tensor<2>, TrainError> {
        // The head (49152 × 576 for SmolLM2) runs on the loss-bearing rows only.
        let run = |m: &Llama, ids: Tensor<2, Int>| {
            let hidden = m.forward_hidden(ids, None);
            let [b, s, h] = hidden.dims();
            m.lm_head
                .forward(hidden.reshape([b * s, h]).select(0, positions.clone()))
        };
        if train {
            Ok(run(&self.model, input_ids))
        } else {
            Ok(run(&self.model.valid(), input_ids.without_autodiff()))
        }
    }

    fn lora_tensors(&self) -> Vec<(String, Tensor<2>)> {
        let mut out = Vec::new();
        for (path, lora) in self.model.lora_adapters() {
            out.push((format!("{path}.lora_A.weight"), lora.a.val()));
            out.push((format!("{path}.lora_B.weight"), lora.b.val()));
        }
        out
    }

    fn set_lora_tensor(&mut self, name: &str, value: Tensor<2>) -> Result<(), TrainError> {
        let missing = || TrainError::Model {
            reason: format!("the model has no LoRA tensor `{name}`"),
        };
        let (module, is_a) = split_name(name).ok_or_else(missing)?;
        let value = if self.device.is_autodiff() {
            value.autodiff()
        } else {
            value
        };
        for (path, linear) in self.model.linears_mut() {
            if path != module {
                continue;
            }
            let lora = linear.lora.as_mut().ok_or_else(missing)?;
            let param = Param::from_tensor(value);
            if is_a {
                lora.a = param;
            } else {
                lora.b = param;
            }
            return Ok(());
        }
        Err(missing())
    }

    fn adapter_config(&self) -> AdapterConfig {
        self.config.clone()
    }
}
