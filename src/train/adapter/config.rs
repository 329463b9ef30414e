//! `adapter_config.json` in PEFT's format.

use std::path::Path;

use serde_json::{Value, json};

use crate::train::error::TrainError;

/// The LoRA settings an adapter was trained with (the subset of PEFT's `LoraConfig` lpipe uses).
#[derive(Clone, Debug, PartialEq)]
pub struct AdapterConfig {
    /// Rank r.
    pub r: usize,
    /// Scaling numerator (`lora_alpha`).
    pub lora_alpha: f64,
    /// Dropout on the input of A during training.
    pub lora_dropout: f64,
    /// HF module names wrapped (`q_proj`, `v_proj`, …), sorted.
    pub target_modules: Vec<String>,
    /// Scale by `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
    /// Where the base model came from (informational).
    pub base_model_name_or_path: Option<String>,
}

impl AdapterConfig {
    /// The factor applied to `B @ A` (PEFT's `scaling`).
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// The JSON PEFT's `save_pretrained` writes for these settings (PEFT 0.21 field set, without
    /// `peft_version`, which PEFT fills in on load). Keys sort as PEFT sorts them.
    pub fn to_json(&self) -> Value {
        // An integral alpha is written as an integer, as PEFT users write it.
        let alpha = if self.lora_alpha.fract() == 0.0 && self.lora_alpha.abs() < 1e15 {
            json!(self.lora_alpha as i64)
        } else {
            json!(self.lora_alpha)
        };
        json!({
            "alora_invocation_tokens": null,
            "alpha_pattern": {},
            "arrow_config": null,
            "auto_mapping": null,
            "base_model_name_or_path": self.base_model_name_or_path,
            "bias": "none",
            "corda_config": null,
            "ensure_weight_tying": false,
            "eva_config": null,
            "exclude_modules": null,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "kasa_config": null,
            "layer_replication": null,
            "layers_pattern": null,
            "layers_to_transform": null,
            "loftq_config": {},
            "lora_alpha": alpha,
            "lora_bias": false,
            "lora_dropout": self.lora_dropout,
            "lora_ga_config": null,
            "megatron_config": null,
            "megatron_core": "megatron.core",
            "modules_to_save": null,
            "monteclora_config": null,
            "peft_type": "LORA",
            "qalora_group_size": 16,
            "r": self.r,
            "rank_pattern": {},
            "revision": null,
            "target_modules": self.target_modules,
            "target_parameters": null,
            "task_type": "CAUSAL_LM",
            "trainable_token_indices": null,
            "use_bdlora": null,
            "use_dora": false,
            "use_qalora": false,
            "use_rslora": self.use_rslora,
            "velora_config": null
        })
    }

    /// The config file text (two-space indent, sorted keys, like PEFT's `json.dumps`).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.to_json()).unwrap_or_default()
    }

    /// Reads a PEFT config, rejecting features lpipe does not implement instead of ignoring them.
    pub fn from_json_str(path: &Path, text: &str) -> Result<Self, TrainError> {
        let bad = |reason: String| TrainError::Json {
            path: path.to_path_buf(),
            reason,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let peft_type = obj
            .get("peft_type")
            .and_then(Value::as_str)
            .unwrap_or("LORA");
        if peft_type != "LORA" {
            return Err(bad(format!("peft_type `{peft_type}` is not LORA")));
        }
        let r = obj
            .get("r")
            .and_then(Value::as_u64)
            .filter(|&r| r > 0)
            .ok_or_else(|| bad("`r` must be a positive integer".into()))? as usize;
        let lora_alpha = obj
            .get("lora_alpha")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("`lora_alpha` must be a number".into()))?;
        let lora_dropout = match obj.get("lora_dropout") {
            None | Some(Value::Null) => 0.0,
            Some(v) => v
                .as_f64()
                .filter(|d| (0.0..1.0).contains(d))
                .ok_or_else(|| bad(format!("`lora_dropout` is {v}; it must be in [0, 1)")))?,
        };
        let mut target_modules: Vec<String> = match obj.get("target_modules") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("`target_modules` must hold strings".into()))
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) => {
                return Err(bad(format!(
                    "`target_modules` is the regular expression `{s}`; list the module names instead"
                )));
            }
            _ => return Err(bad("`target_modules` is missing".into())),
        };
        target_modules.sort();
        let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
        let nonempty = |k: &str| match obj.get(k) {
            None | Some(Value::Null) => false,
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        for unsupported in ["use_dora", "fan_in_fan_out", "lora_bias", "use_qalora"] {
            if flag(unsupported) {
                return Err(bad(format!("`{unsupported}: true` is not supported")));
            }
        }
        for unsupported in [
            "rank_pattern",
            "alpha_pattern",
            "modules_to_save",
            "layers_to_transform",
            "trainable_token_indices",
        ] {
            if nonempty(unsupported) {
                return Err(bad(format!("`{unsupported}` is not supported")));
            }
        }
        match obj.get("bias").and_then(Value::as_str) {
            None | Some("none") => {}
            Some(b) => return Err(bad(format!("`bias: {b}` is not supported (only \"none\")"))),
        }
        Ok(AdapterConfig {
            r,
            lora_alpha,
            lora_dropout,
            target_modules,
            use_rslora: flag("use_rslora"),
            base_model_name_or_path: obj
                .get("base_model_name_or_path")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}
