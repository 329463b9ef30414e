//! HF model directories: `config.json`, single or sharded `*.safetensors`, tokenizer files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::TensorData;

use super::config::{self, ModelConfig};
use super::error::ModelError;
use super::safetensors::SafetensorsFile;
use super::tokenizer_location::TokenizerLocation;
use crate::nn::init::WeightSource;

/// An opened HF checkpoint directory.
#[derive(Debug)]
pub struct HfCheckpoint {
    /// The directory.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: ModelConfig,
    files: Vec<SafetensorsFile>,
    /// Tensor name → index into `files`.
    index: HashMap<String, usize>,
}

impl HfCheckpoint {
    /// Opens `dir`: reads `config.json`, maps every shard named by
    /// `model.safetensors.index.json` (or the single `model.safetensors`, or every
    /// `*.safetensors` when neither exists).
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let config_path = dir.join("config.json");
        let config = config::from_hf_config(&config_path)?;
        let shard_names = shard_names(dir)?;
        let mut files = Vec::with_capacity(shard_names.len());
        let mut index = HashMap::new();
        for name in &shard_names {
            let file = SafetensorsFile::open(&dir.join(name))?;
            for t in file.names() {
                index.insert(t, files.len());
            }
            files.push(file);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            files,
            index,
        })
    }

    /// The tokenizer shipped beside the weights.
    pub fn tokenizer_location(&self) -> TokenizerLocation {
        let json = self.dir.join("tokenizer.json");
        let sp = self.dir.join("tokenizer.model");
        if json.is_file() {
            TokenizerLocation::HfJson(json)
        } else if sp.is_file() {
            TokenizerLocation::SentencePiece(sp)
        } else {
            TokenizerLocation::Missing
        }
    }

    /// The shard holding `name`.
    pub fn file_of(&self, name: &str) -> Option<&SafetensorsFile> {
        self.index.get(name).and_then(|&i| self.files.get(i))
    }
}

/// Shard file names, from the index when present.
fn shard_names(dir: &Path) -> Result<Vec<String>, ModelError> {
    let index_path = dir.join("model.safetensors.index.json");
    if index_path.is_file() {
        let text = std::fs::read_to_string(&index_path).map_err(|source| ModelError::Io {
            path: index_path.clone(),
            source,
        })?;
        let bad = |what: String| ModelError::Safetensors {
            path: index_path.clone(),
            what,
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad("no `weight_map` object".into()))?;
        let mut names: Vec<String> = Vec::new();
        for (tensor, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| bad(format!("`{tensor}` maps to a non-string")))?;
            // Shards must sit inside the directory.
            if file.contains('/') || file.contains('\\') || file.starts_with('.') {
                return Err(bad(format!("shard name `{file}` leaves the directory")));
            }
            if !names.iter().any(|n| n == file) {
                names.push(file.to_string());
            }
        }
        names.sort();
        return Ok(names);
    }
    if dir.join("model.safetensors").is_file() {
        return Ok(vec!["model.safetensors".into()]);
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(ModelError::NotACheckpoint {
            path: dir.to_path_buf(),
            what: "no *.safetensors weights (pickled .bin checkpoints are not read)".into(),
        });
    }
    Ok(names)
}

impl HfCheckpoint {
    /// The shard holding `name`, or the missing-tensor error.
    fn shard(&self, name: &str) -> Result<&SafetensorsFile, ModelError> {
        self.file_of(name).ok_or_else(|| ModelError::MissingTensor {
            path: self.dir.clone(),
            tensor: name.to_string(),
        })
    }
}

impl WeightSource for HfCheckpoint {
    type Error = ModelError;

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        self.shard(name)?.to_f32(name, Some(shape))
    }

    fn load_stored(&self, name: &str, shape: &[usize]) -> Result<Option<TensorData>, ModelError> {
        self.shard(name)?.to_data(name, shape).map(Some)
    }

    fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
}
