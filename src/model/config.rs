//! A checkpoint's runtime configuration, from the one architecture reader (`model::arch`).

use std::path::Path;

use super::arch::{Arch, ArchError, GgufHeader, GgufScalar, Reading};
use super::error::ModelError;
use super::gguf::{GgufFile, GgufValue};
pub use crate::nn::config::{LlamaConfig as ModelConfig, RopeScaling};

/// Rotary tables cover at most this many positions, whatever the context length claims, so that a
/// 128k-context checkpoint does not allocate hundreds of MB of tables up front.
pub const MAX_ROPE_TABLE: usize = 32_768;

/// The configuration of a GGUF checkpoint (`llama` architecture).
pub fn from_gguf(file: &GgufFile) -> Result<ModelConfig, ModelError> {
    let path = file.path();
    let reading =
        Arch::read_gguf(file, &path.display().to_string()).map_err(|e| arch_error(path, e))?;
    runtime(reading, path)
}

/// The configuration in a Hugging Face `config.json`.
pub fn from_hf_config(path: &Path) -> Result<ModelConfig, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reading = Arch::read_hf_config_str(&text, &path.display().to_string())
        .map_err(|e| arch_error(path, e))?;
    runtime(reading, path)
}

/// The runtime configuration of a reading, with every problem (the file's and the shape's) in
/// one `E310`.
fn runtime(reading: Reading, path: &Path) -> Result<ModelConfig, ModelError> {
    let Reading { arch, mut problems } = reading;
    let config = ModelConfig {
        vocab_size: arch.vocab_size,
        hidden_size: arch.hidden_size,
        intermediate_size: arch.intermediate_size,
        num_layers: arch.num_layers,
        num_heads: arch.num_heads,
        num_kv_heads: arch.num_kv_heads,
        head_dim: arch.head_dim,
        rope_theta: arch.rope_theta,
        rope_scaling: arch.rope_scaling,
        rms_norm_eps: arch.rms_norm_eps,
        max_seq_len: arch.max_position_embeddings.min(MAX_ROPE_TABLE),
        tie_word_embeddings: arch.tie_word_embeddings,
    };
    problems.extend(config.problems());
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ModelError::Config {
            path: path.to_path_buf(),
            problems,
        })
    }
}

/// The loader's codes for an architecture error: `E311` for another model family, `E304` for a
/// missing GGUF key, `E310` for the rest.
fn arch_error(path: &Path, e: ArchError) -> ModelError {
    let path = path.to_path_buf();
    match e {
        ArchError::Unsupported { found, .. } => {
            ModelError::UnsupportedArchitecture { path, arch: found }
        }
        ArchError::Missing { field, .. } if path.extension().is_some_and(|x| x == "gguf") => {
            ModelError::MissingKey { path, key: field }
        }
        other => ModelError::Config {
            path,
            problems: vec![other.to_string()],
        },
    }
}

impl GgufHeader for GgufFile {
    fn kv(&self, key: &str) -> Option<GgufScalar> {
        let value = self.get(key)?;
        Some(match value {
            GgufValue::Bool(b) => GgufScalar::Bool(*b),
            GgufValue::Str(s) => GgufScalar::Str(s.clone()),
            GgufValue::Array(a) => GgufScalar::ArrayLen(a.len() as u64),
            v => match (v.as_integer(), v.as_float()) {
                (Some(i), _) => match u64::try_from(i) {
                    Ok(u) => GgufScalar::Uint(u),
                    Err(_) => GgufScalar::Int(i64::try_from(i).unwrap_or(i64::MIN)),
                },
                (None, Some(x)) => GgufScalar::Float(x),
                (None, None) => return None,
            },
        })
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.find_tensor(name).is_some()
    }

    fn tensor_dims(&self, name: &str) -> Option<Vec<u64>> {
        self.find_tensor(name).map(|t| t.dims.clone())
    }
}
