//! The `lora` stage: PEFT's adapters on the base's target linears, freshly initialised from the
//! seeded generator or loaded from `init = peft(dir)`.

use std::rc::Rc;

use super::model::BaseModel;
use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::ir;
use crate::train::adapter::{Adapter, AdapterConfig};
use crate::train::llama::LlamaLora;
use crate::train::model::load_adapter_into;

/// A base with adapters, and the base it came from (its tokenizer and path).
#[derive(Clone)]
pub struct Adapted {
    /// The model with its adapters.
    pub model: LlamaLora,
    /// The base.
    pub base: Rc<BaseModel>,
}

/// Attaches the run's adapters.
pub struct LoraStage<'a> {
    /// The `lora` block.
    pub lora: &'a ir::Lora,
    /// `train.seed`: the initialisation draws from the device's generator, seeded with it.
    pub seed: u64,
}

impl Stage for LoraStage<'_> {
    fn settings(&self) -> String {
        format!(
            "{}|seed {}",
            serde_json::to_string(self.lora).unwrap_or_default(),
            self.seed
        )
    }

    // Not shared: training's dropout continues the generator this stage seeds and draws from,
    // so each run initialises its own adapters, exactly as a run alone would.

    fn run(&self, _: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError> {
        let base = inputs.base()?;
        let config = adapter_config(self.lora, &base.loaded.path.display().to_string());
        // LoRA init and dropout draw from the device's generator: seeded, runs repeat exactly.
        base.device.seed(self.seed);
        let model = init_adapter(base.loaded.model.clone(), self.lora, config, &base.device)?;
        let trainable = trainable(&model);
        let from = match &self.lora.init {
            ir::LoraInit::Peft(dir) => format!("loaded from {}", dir.display()),
            _ => "initialised as PEFT does".into(),
        };
        log(format!("lora: {trainable} trainable parameters, {from}"));
        Ok(Artifact::Adapter(Rc::new(Adapted { model, base })))
    }
}

/// The adapters' parameter count.
pub fn trainable(model: &LlamaLora) -> usize {
    let tensors = model.model.lora_tensors();
    tensors.iter().map(|(_, t)| t.shape().num_elements()).sum()
}

/// PEFT's adapter settings for a pipeline's `lora` block.
pub fn adapter_config(lora: &ir::Lora, base_model: &str) -> AdapterConfig {
    let mut modules: Vec<String> = lora
        .targets
        .iter()
        .flat_map(|t| t.hf_modules().iter().map(|m| m.to_string()))
        .collect();
    modules.sort();
    modules.dedup();
    AdapterConfig {
        r: lora.r as usize,
        lora_alpha: lora.alpha,
        lora_dropout: lora.dropout,
        target_modules: modules,
        use_rslora: lora.rslora,
        base_model_name_or_path: Some(base_model.to_string()),
    }
}

/// The adapter a run starts from: PEFT's fresh initialisation (drawn from `device`'s generator,
/// which the caller seeds), or the tensors of the PEFT adapter `lora.init = peft(dir)` names. The
/// `lora` block still defines the adapter, so a directory whose rank, alpha, scaling or targets
/// differ is refused rather than silently reshaping the run.
pub fn init_adapter(
    base: crate::nn::Llama,
    lora: &ir::Lora,
    config: AdapterConfig,
    device: &burn::tensor::Device,
) -> Result<LlamaLora, ExecError> {
    let ir::LoraInit::Peft(dir) = &lora.init else {
        return Ok(LlamaLora::new(base, config, device)?);
    };
    let adapter = Adapter::load(dir)?;
    let theirs = &adapter.config;
    let mut differ = Vec::new();
    if theirs.r != config.r {
        differ.push(format!(
            "r = {} (the lora block says {})",
            theirs.r, config.r
        ));
    }
    if theirs.lora_alpha != config.lora_alpha {
        let (a, b) = (theirs.lora_alpha, config.lora_alpha);
        differ.push(format!("alpha = {a} (the lora block says {b})"));
    }
    if theirs.use_rslora != config.use_rslora {
        differ.push(format!("use_rslora = {}", theirs.use_rslora));
    }
    let mut their_modules = theirs.target_modules.clone();
    their_modules.sort();
    if their_modules != config.target_modules {
        differ.push(format!(
            "targets {} (the lora block gives {})",
            their_modules.join(", "),
            config.target_modules.join(", ")
        ));
    }
    if !differ.is_empty() {
        return Err(ExecError::Unsupported {
            what: format!(
                "the adapter in {} does not match the lora block: {}",
                dir.display(),
                differ.join("; ")
            ),
            help: "set the lora block's r, alpha, rslora and targets to the adapter's \
                   (its adapter_config.json), or start from `init = default`"
                .into(),
        });
    }
    // The block's dropout applies: it is a training setting, not part of the weights.
    let mut model = LlamaLora::new(base, config, device)?;
    load_adapter_into(&mut model, &adapter)?;
    Ok(model)
}
