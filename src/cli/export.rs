//! `lpipe export`: write an adapter in PEFT format, or merge it into the base weights.

use std::path::PathBuf;
use std::process::ExitCode;

use miette::Report;

use crate::train::export::export;

/// Arguments of `lpipe export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Adapter directory (adapter_config.json + adapter_model.safetensors, lpipe or PEFT).
    #[arg(long)]
    pub adapter: PathBuf,
    /// Base model: a .safetensors file, a Hugging Face model directory or a llama.cpp .gguf
    /// (dequantized to f32; needed with --merge).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Merge the adapter into the base weights (W + scaling * B @ A) instead of copying it.
    #[arg(long)]
    pub merge: bool,
    /// Output directory (replaced atomically).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

/// Runs `lpipe export`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let msg = export(
        &args.adapter,
        args.model.as_deref(),
        args.merge,
        &args.output,
    )
    .map_err(Report::new)?;
    println!("{msg}");
    Ok(ExitCode::SUCCESS)
}
