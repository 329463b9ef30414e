//! The `model` stage: resolve the source, load the weights on the pipeline's device, load the
//! tokenizer.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use burn::tensor::Device;

use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::ir;
use crate::model::device::DeviceSpec;
use crate::model::load::{LoadedModel, TokenizerLocation, load};
use crate::model::source::{ModelSource, identity};
use crate::tokenizer::{self, Tokenizer};

/// A loaded base model with its tokenizer.
#[derive(Clone)]
pub struct BaseModel {
    /// Weights and configuration.
    pub loaded: LoadedModel,
    /// The tokenizer that came with the checkpoint.
    pub tokenizer: Rc<dyn Tokenizer>,
    /// Content identity of the tokenizer (keys the tokenized-dataset cache).
    pub tokenizer_id: String,
    /// Content identity of the weights (keys cached evaluations).
    pub weights_id: String,
    /// The device everything runs on.
    pub device: Device,
    /// The token lm-evaluation-harness feeds for an empty context (BOS, else EOS).
    pub prefix_token: Option<u32>,
}

/// Loads the run's base model.
pub struct ModelStage<'a> {
    model: &'a ir::Model,
    base_dir: PathBuf,
    /// On an autodiff device: the run trains (evaluation drops autodiff with `valid()`).
    training: bool,
}

impl<'a> ModelStage<'a> {
    /// The stage for `cfg`'s model block.
    pub fn new(cfg: &'a ir::RunConfig, pipeline: &ir::Pipeline) -> Self {
        ModelStage {
            model: &cfg.model,
            base_dir: pipeline
                .source
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            training: cfg.train.is_some() && cfg.lora.is_some(),
        }
    }
}

impl Stage for ModelStage<'_> {
    fn settings(&self) -> String {
        format!(
            "{}|{}|training {}",
            serde_json::to_string(self.model).unwrap_or_default(),
            self.base_dir.display(),
            self.training
        )
    }

    fn shared(&self) -> bool {
        true
    }

    fn run(&self, _: &mut Context, _: Inputs) -> Result<Artifact, ExecError> {
        let t = Instant::now();
        let base = load_base_on(self.model, &self.base_dir, self.training)?;
        log(format!(
            "model: loaded {} ({} layers, vocab {}) on {} in {:.1}s",
            base.loaded.path.display(),
            base.loaded.config.num_layers,
            base.loaded.config.vocab_size,
            self.model.device,
            t.elapsed().as_secs_f64()
        ));
        Ok(Artifact::Base(Rc::new(base)))
    }
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
    let tokenizer: Rc<dyn Tokenizer> = tokenizer::load(&tokenizer_path)?.into();
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
