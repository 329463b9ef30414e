//! Reading a [`ModelConfig`] from GGUF metadata or an HF `config.json`.

use std::path::Path;

use serde::Deserialize;

use super::error::ModelError;
use super::gguf::GgufFile;
pub use crate::nn::config::{LlamaConfig as ModelConfig, RopeScaling};

/// Rotary tables cover at most this many positions, whatever the context length claims, so that a
/// 128k-context checkpoint does not allocate hundreds of MB of tables up front.
pub const MAX_ROPE_TABLE: usize = 32_768;

/// The configuration of a GGUF checkpoint (`llama` architecture).
pub fn from_gguf(file: &GgufFile) -> Result<ModelConfig, ModelError> {
    let arch = file.architecture()?;
    if arch != "llama" {
        return Err(ModelError::UnsupportedArchitecture {
            path: file.path().to_path_buf(),
            arch: arch.to_string(),
        });
    }
    let key = |k: &str| format!("{arch}.{k}");
    let hidden = file.get_u32(&key("embedding_length"))? as usize;
    let heads = file.get_u32(&key("attention.head_count"))? as usize;
    let kv_heads = file
        .opt_u32(&key("attention.head_count_kv"))?
        .map_or(heads, |v| v as usize);
    let head_dim = match file.opt_u32(&key("attention.key_length"))? {
        Some(d) => d as usize,
        None => hidden.checked_div(heads).unwrap_or(0),
    };
    let vocab = match file.opt_u32(&key("vocab_size"))? {
        Some(v) => v as usize,
        None => file
            .tensor("token_embd.weight")?
            .dims
            .get(1)
            .map_or(0, |&d| d as usize),
    };
    let rope_scaling = match file.opt_str(&key("rope.scaling.type"))? {
        None | Some("none") => None,
        Some("linear") => Some(RopeScaling::Linear {
            factor: file.get_f32(&key("rope.scaling.factor"))? as f64,
        }),
        Some(other) => {
            return Err(config_error(
                file.path(),
                vec![format!("rope scaling `{other}` is not supported")],
            ));
        }
    };
    let mut problems = Vec::new();
    if file.find_tensor("rope_freqs.weight").is_some() {
        problems.push("per-frequency rope factors (`rope_freqs.weight`) are not supported".into());
    }
    let context = file.opt_u32(&key("context_length"))?.unwrap_or(2048) as usize;
    let config = ModelConfig {
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: file.get_u32(&key("feed_forward_length"))? as usize,
        num_layers: file.get_u32(&key("block_count"))? as usize,
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        rope_theta: file.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0) as f64,
        rope_scaling,
        rms_norm_eps: file.get_f32(&key("attention.layer_norm_rms_epsilon"))? as f64,
        max_seq_len: context.min(MAX_ROPE_TABLE),
        tie_word_embeddings: file.find_tensor("output.weight").is_none(),
    };
    problems.extend(config.problems());
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(config_error(file.path(), problems))
    }
}

fn config_error(path: &Path, problems: Vec<String>) -> ModelError {
    ModelError::Config {
        path: path.to_path_buf(),
        problems,
    }
}

/// `config.json` as transformers writes it for Llama-architecture models.
#[derive(Debug, Deserialize)]
pub struct HfConfig {
    /// `["LlamaForCausalLM"]`.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// `llama`.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (defaults to the query heads).
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Head width (defaults to hidden / heads).
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Rotary base (transformers < 5).
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// Rotary scaling (transformers < 5).
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Rotary base and scaling (transformers ≥ 5).
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    /// RMSNorm ε.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// Context length.
    #[serde(default = "default_context")]
    pub max_position_embeddings: usize,
    /// Whether the head is tied to the embedding (transformers' Llama default is false).
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Biases on q/k/v/o projections (unsupported when true).
    #[serde(default)]
    pub attention_bias: bool,
    /// Biases on MLP projections (unsupported when true).
    #[serde(default)]
    pub mlp_bias: bool,
    /// Activation (must be `silu`).
    #[serde(default)]
    pub hidden_act: Option<String>,
}

fn default_eps() -> f64 {
    1e-6
}

fn default_context() -> usize {
    2048
}

impl HfConfig {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| config_error(path, vec![e.to_string()]))
    }

    /// The runtime configuration; `path` labels diagnostics.
    pub fn into_config(self, path: &Path) -> Result<ModelConfig, ModelError> {
        let model_type = self.model_type.as_deref().unwrap_or("llama");
        let supported = ["llama", "mistral", "qwen2"];
        if !supported.contains(&model_type)
            && !self.architectures.iter().any(|a| a == "LlamaForCausalLM")
        {
            return Err(ModelError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                arch: model_type.to_string(),
            });
        }
        let mut problems = Vec::new();
        if self.attention_bias || self.mlp_bias || model_type == "qwen2" {
            problems.push("projection biases are not supported".to_string());
        }
        if let Some(act) = self.hidden_act.as_deref().filter(|a| *a != "silu") {
            problems.push(format!("activation `{act}` is not supported (only silu)"));
        }
        let rope = self.rope_parameters.as_ref().or(self.rope_scaling.as_ref());
        let theta = self
            .rope_theta
            .or_else(|| {
                rope.and_then(|r| r.get("rope_theta"))
                    .and_then(|v| v.as_f64())
            })
            .unwrap_or(10_000.0);
        let rope_scaling = match rope {
            None => None,
            Some(r) => match parse_scaling(r) {
                Ok(s) => s,
                Err(p) => {
                    problems.push(p);
                    None
                }
            },
        };
        let config = ModelConfig {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_hidden_layers,
            num_heads: self.num_attention_heads,
            num_kv_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim: self.head_dim.unwrap_or_else(|| {
                self.hidden_size
                    .checked_div(self.num_attention_heads)
                    .unwrap_or(0)
            }),
            rope_theta: theta,
            rope_scaling,
            rms_norm_eps: self.rms_norm_eps,
            max_seq_len: self.max_position_embeddings.min(MAX_ROPE_TABLE),
            tie_word_embeddings: self.tie_word_embeddings,
        };
        problems.extend(config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(config_error(path, problems))
        }
    }
}

/// HF `rope_scaling` / `rope_parameters` objects.
fn parse_scaling(r: &serde_json::Value) -> Result<Option<RopeScaling>, String> {
    let kind = r
        .get("rope_type")
        .or_else(|| r.get("type"))
        .and_then(|v| v.as_str())
        .unwrap_or("default");
    let num = |k: &str| {
        r.get(k)
            .and_then(|v| v.as_f64())
            .ok_or_else(|| format!("rope scaling `{kind}` lacks `{k}`"))
    };
    match kind {
        "default" => Ok(None),
        "linear" => Ok(Some(RopeScaling::Linear {
            factor: num("factor")?,
        })),
        "llama3" => Ok(Some(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_max_position_embeddings: num("original_max_position_embeddings")? as usize,
        })),
        other => Err(format!("rope scaling `{other}` is not supported")),
    }
}
