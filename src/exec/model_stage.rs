//! The model-load stage: resolve the source, load weights on the pipeline's device, load its tokenizer.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::error::ExecError;
use crate::ir;
use crate::model::device::DeviceSpec;
use crate::model::load::{LoadedModel, TokenizerLocation, load};
use crate::model::source::{ModelSource, sha256_file};
use crate::tokenizer::{self, Tokenizer};

/// A loaded base model with its tokenizer.
pub struct BaseModel {
    /// Weights and configuration.
    pub loaded: LoadedModel,
    /// The tokenizer that came with the checkpoint.
    pub tokenizer: Box<dyn Tokenizer>,
    /// Content identity of the tokenizer (keys the tokenized-dataset cache).
    pub tokenizer_id: String,
    /// Content identity of the weights (keys cached evaluations).
    pub weights_id: String,
    /// The device everything runs on.
    pub device: Device,
    /// The token lm-evaluation-harness feeds for an empty context (BOS, else EOS).
    pub prefix_token: Option<u32>,
}

/// Resolves a pipeline's model source to a file or directory, relative paths against `base_dir`.
pub fn resolve(model: &ir::Model, base_dir: &Path) -> Result<PathBuf, ExecError> {
    let source = match &model.source {
        ir::ModelSource::Local(path) if path.is_relative() && !path.exists() => {
            ModelSource::Path(base_dir.join(path))
        }
        ir::ModelSource::Local(path) => ModelSource::Path(path.clone()),
        ir::ModelSource::Hf { repo, revision } => ModelSource::Hub {
            repo: repo.clone(),
            revision: revision.clone(),
        },
        ir::ModelSource::Wheel { requirement, file } => ModelSource::Wheel {
            requirement: requirement.clone(),
            file: file.clone(),
        },
    };
    Ok(source.resolve()?)
}

/// The Burn device for a pipeline's `device = …`, computing in `precision`.
pub fn device(spec: ir::Device, precision: ir::Precision) -> Result<Device, ExecError> {
    Ok(DeviceSpec::from(spec).device_in(precision)?)
}

/// Loads the base model and its tokenizer; `autodiff` puts it on a training device.
pub fn load_base_on(
    model: &ir::Model,
    base_dir: &Path,
    autodiff: bool,
) -> Result<BaseModel, ExecError> {
    let path = resolve(model, base_dir)?;
    let device = device(model.device, model.precision)?;
    let device = if autodiff { device.autodiff() } else { device };
    let loaded = load(&path, &device)?;
    let tokenizer_path = match (&model.tokenizer, &loaded.tokenizer) {
        // `model.tokenizer` overrides the checkpoint's own.
        (Some(p), _) => local(p, base_dir),
        (
            None,
            TokenizerLocation::Gguf(p)
            | TokenizerLocation::HfJson(p)
            | TokenizerLocation::SentencePiece(p),
        ) => p.clone(),
        (None, TokenizerLocation::Missing) => path.clone(),
    };
    let tokenizer = tokenizer::load(&tokenizer_path)?;
    // A named tokenizer must fit the embeddings (a checkpoint's own is trusted as shipped).
    if model.tokenizer.is_some() && tokenizer.vocab_size() > loaded.config.vocab_size {
        return Err(ExecError::Unsupported {
            what: format!(
                "the tokenizer {} has {} tokens, more than the model's {} embeddings",
                tokenizer_path.display(),
                tokenizer.vocab_size(),
                loaded.config.vocab_size
            ),
            help: "set `model.tokenizer` to the tokenizer the checkpoint was trained with".into(),
        });
    }
    let weights_id = identity(&path)?;
    let tokenizer_id = if tokenizer_path == path {
        weights_id.clone()
    } else {
        identity(&tokenizer_path)?
    };
    let prefix_token = if path.is_file() {
        crate::model::gguf::GgufFile::open(&path)
            .ok()
            .and_then(|f| crate::eval::prefix::gguf_prefix_token(&f))
    } else {
        None
    };
    Ok(BaseModel {
        prefix_token,
        loaded,
        tokenizer,
        tokenizer_id,
        weights_id,
        device,
    })
}

/// A relative path the checker did not resolve (IR from elsewhere) is taken against `base_dir`.
fn local(path: &Path, base_dir: &Path) -> PathBuf {
    if path.is_relative() && !path.exists() {
        base_dir.join(path)
    } else {
        path.to_path_buf()
    }
}

/// SHA-256 of a file, or of a directory's `config.json` plus its file names and sizes (hashing a
/// multi-gigabyte sharded checkpoint on every run would cost more than the run's setup).
pub fn identity(path: &Path) -> Result<String, ExecError> {
    if path.is_file() {
        return Ok(sha256_file(path)?);
    }
    let mut parts = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|e| ExecError::write(path, e))?;
    for entry in entries.flatten() {
        let meta = entry
            .metadata()
            .map_err(|e| ExecError::write(entry.path(), e))?;
        parts.push(format!(
            "{}:{}",
            entry.file_name().to_string_lossy(),
            meta.len()
        ));
    }
    parts.sort();
    let config = path.join("config.json");
    if config.is_file() {
        parts.push(sha256_file(&config)?);
    }
    Ok(crate::data::alpaca::hex_sha256(parts.join("\n").as_bytes()))
}
