//! PEFT LoRA adapter directories: `adapter_config.json` + `adapter_model.safetensors`.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use super::error::ModelError;
use super::safetensors::SafetensorsFile;
use crate::nn::{Llama, LoraConfig};

/// The part of PEFT's `adapter_config.json` lpipe reads and writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// Always `LORA`.
    pub peft_type: String,
    /// Rank.
    pub r: usize,
    /// α.
    pub lora_alpha: f64,
    /// Dropout on the adapter input.
    #[serde(default)]
    pub lora_dropout: f64,
    /// Adapted module names (`q_proj`, …).
    pub target_modules: Vec<String>,
    /// rsLoRA scaling.
    #[serde(default)]
    pub use_rslora: bool,
    /// Must be false for Llama (weights are `[out, in]`).
    #[serde(default)]
    pub fan_in_fan_out: bool,
    /// Must be `none`.
    #[serde(default = "none")]
    pub bias: String,
    /// DoRA is not supported.
    #[serde(default)]
    pub use_dora: bool,
    /// `CAUSAL_LM`.
    #[serde(default)]
    pub task_type: Option<String>,
    /// The base model, informative.
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
}

fn none() -> String {
    "none".into()
}

impl AdapterConfig {
    /// The LoRA settings of one adapted layer.
    pub fn lora(&self) -> LoraConfig {
        LoraConfig::new(self.r)
            .with_alpha(self.lora_alpha)
            .with_dropout(self.lora_dropout)
            .with_use_rslora(self.use_rslora)
    }
}

/// Applies the PEFT adapter in `dir` to `model` (replacing any adapters it has).
pub fn load_adapter(model: Llama, dir: &Path, device: &Device) -> Result<Llama, ModelError> {
    let bad = |what: String| ModelError::Adapter {
        path: dir.to_path_buf(),
        what,
    };
    let config_path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|source| ModelError::Io {
        path: config_path.clone(),
        source,
    })?;
    let config: AdapterConfig =
        serde_json::from_str(&text).map_err(|e| bad(format!("adapter_config.json: {e}")))?;
    let mut problems = Vec::new();
    if config.peft_type != "LORA" {
        problems.push(format!("peft_type `{}` (only LORA)", config.peft_type));
    }
    if config.fan_in_fan_out {
        problems.push("fan_in_fan_out adapters are not supported".into());
    }
    if config.bias != "none" {
        problems.push(format!("bias `{}` (only none)", config.bias));
    }
    if config.use_dora {
        problems.push("DoRA adapters are not supported".into());
    }
    if config.r == 0 {
        problems.push("rank r is 0".into());
    }
    if !(0.0..1.0).contains(&config.lora_dropout) {
        problems.push(format!(
            "lora_dropout {} is outside [0, 1)",
            config.lora_dropout
        ));
    }
    if !config.lora_alpha.is_finite() {
        problems.push(format!("lora_alpha {} is not finite", config.lora_alpha));
    }
    if !problems.is_empty() {
        return Err(bad(problems.join("; ")));
    }
    let weights = SafetensorsFile::open(&dir.join("adapter_model.safetensors"))?;
    let lora = config.lora();
    let mut model = model;
    let mut used = 0;
    for (path, linear) in model.linears_mut() {
        let short = path.rsplit('.').next().unwrap_or(&path);
        if !config.target_modules.iter().any(|t| t == short) {
            linear.lora = None;
            continue;
        }
        let a_name = format!("base_model.model.{path}.lora_A.weight");
        let b_name = format!("base_model.model.{path}.lora_B.weight");
        let (d_in, d_out) = (linear.d_in(), linear.d_out());
        let a = weights.to_f32(&a_name, Some(&[config.r, d_in]))?;
        let b = weights.to_f32(&b_name, Some(&[d_out, config.r]))?;
        let a = Tensor::<2>::from_data(TensorData::new(a, [config.r, d_in]), device);
        let b = Tensor::<2>::from_data(TensorData::new(b, [d_out, config.r]), device);
        linear.lora = Some(lora.with_weights(a, b));
        used += 2;
    }
    let stored = weights.names().len();
    if used != stored {
        return Err(bad(format!(
            "{stored} tensors stored but {used} match the model's {:?} layers (wrong base model?)",
            config.target_modules
        )));
    }
    Ok(model)
}

/// Writes `model`'s adapters as a PEFT directory (atomically: temp files, then rename).
pub fn save_adapter(model: &Llama, config: &AdapterConfig, dir: &Path) -> Result<(), ModelError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tensors: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    for (name, t) in model.lora_tensors() {
        let shape = t.dims().to_vec();
        let values: Vec<f32> = t
            .into_data()
            .try_to_vec()
            .map_err(|e| ModelError::Adapter {
                path: dir.to_path_buf(),
                what: format!("cannot read `{name}`: {e:?}"),
            })?;
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((name, bytes, shape));
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .filter_map(|(n, b, s)| Some((n.clone(), TensorView::new(Dtype::F32, s.clone(), b).ok()?)))
        .collect();
    let metadata = Some([("format".to_string(), "pt".to_string())].into());
    let bytes =
        safetensors::tensor::serialize(views, metadata).map_err(|e| ModelError::Adapter {
            path: dir.to_path_buf(),
            what: e.to_string(),
        })?;
    let json = serde_json::to_vec_pretty(config).unwrap_or_default();
    write_atomic(&dir.join("adapter_model.safetensors"), &bytes).map_err(io(dir))?;
    write_atomic(&dir.join("adapter_config.json"), &json).map_err(io(dir))?;
    Ok(())
}

/// Writes `bytes` to a temp file beside `path`, then renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
