//! LoRA adapters in PEFT's on-disk format, loadable by `PeftModel.from_pretrained` unchanged.
//!
//! A directory holds `adapter_config.json` and `adapter_model.safetensors`; tensor keys are
//! `base_model.model.<module>.lora_A.weight` / `lora_B.weight` (PEFT strips the adapter name
//! `default` on save). In memory lpipe uses the short names without `base_model.model.`.

mod config;

use std::path::Path;

pub use config::AdapterConfig;

use super::error::TrainError;
use super::tensors::{NamedTensors, from_safetensors_bytes, to_safetensors_bytes};
use crate::io::StagedDir;

/// PEFT's prefix for a `PeftModelForCausalLM` wrapping a `*ForCausalLM`.
pub const PEFT_PREFIX: &str = "base_model.model.";
/// The config file name.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// The weights file name.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// LoRA settings and weights (short names such as `model.layers.0.self_attn.q_proj.lora_A.weight`).
#[derive(Clone, Debug, PartialEq)]
pub struct Adapter {
    /// The settings.
    pub config: AdapterConfig,
    /// A `[r, in]` and B `[out, r]` per wrapped module.
    pub tensors: NamedTensors,
}

/// The PEFT key of a short name.
pub fn peft_key(short: &str) -> String {
    format!("{PEFT_PREFIX}{short}")
}

/// The short name of a PEFT key (also accepting keys that kept the `.default` adapter name).
pub fn short_name(key: &str) -> String {
    key.strip_prefix(PEFT_PREFIX)
        .unwrap_or(key)
        .replace(".lora_A.default.", ".lora_A.")
        .replace(".lora_B.default.", ".lora_B.")
}

impl Adapter {
    /// Checks that every wrapped module has an A `[r, in]` and a B `[out, r]`.
    pub fn validate(&self) -> Result<(), TrainError> {
        let r = self.config.r;
        for (name, t) in &self.tensors {
            let bad = |reason: String| TrainError::AdapterMismatch {
                reason: format!("`{name}`: {reason}"),
            };
            let module = name
                .strip_suffix(".lora_A.weight")
                .map(|m| (m, true))
                .or_else(|| name.strip_suffix(".lora_B.weight").map(|m| (m, false)));
            let Some((module, is_a)) = module else {
                return Err(bad("not a lora_A/lora_B weight".into()));
            };
            let partner = format!("{module}.lora_{}.weight", if is_a { "B" } else { "A" });
            if !self.tensors.contains_key(&partner) {
                return Err(bad(format!("`{partner}` is missing")));
            }
            let ok = match (is_a, t.shape.as_slice()) {
                (true, [rows, _]) => *rows == r,
                (false, [_, cols]) => *cols == r,
                _ => false,
            };
            if !ok {
                return Err(bad(format!(
                    "shape {:?} does not have rank r = {r}",
                    t.shape
                )));
            }
        }
        Ok(())
    }

    /// Safetensors bytes with PEFT keys.
    pub fn weights_bytes(&self) -> Result<Vec<u8>, TrainError> {
        let keyed: NamedTensors = self
            .tensors
            .iter()
            .map(|(k, v)| (peft_key(k), v.clone()))
            .collect();
        to_safetensors_bytes(&keyed)
    }

    /// Writes the adapter directory atomically (both files appear together or not at all).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.validate()?;
        let weights = self.weights_bytes()?;
        let write = |e| TrainError::io("write", dir, e);
        let staged = StagedDir::new(dir).map_err(write)?;
        staged
            .write(CONFIG_FILE, self.config.to_json_string().as_bytes())
            .map_err(write)?;
        staged.write(WEIGHTS_FILE, &weights).map_err(write)?;
        staged.commit().map_err(write)?;
        Ok(())
    }

    /// Reads an adapter directory written by lpipe or PEFT.
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text =
            std::fs::read_to_string(&cfg_path).map_err(|e| TrainError::io("read", &cfg_path, e))?;
        let config = AdapterConfig::from_json_str(&cfg_path, &text)?;
        let w_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&w_path).map_err(|e| TrainError::io("read", &w_path, e))?;
        let tensors = from_safetensors_bytes(&w_path, &bytes)?
            .into_iter()
            .map(|(k, v)| (short_name(&k), v))
            .collect();
        let adapter = Adapter { config, tensors };
        adapter.validate()?;
        Ok(adapter)
    }
}

#[cfg(test)]
mod tests;
