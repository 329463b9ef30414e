//! `lpipe quantize`: write a bitsandbytes NF4/FP4 checkpoint that transformers loads directly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::quant::QuantType;
use crate::quant::serialize::{QuantizeOptions, quantize_checkpoint};

/// The 4-bit type on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum TypeArg {
    /// NormalFloat4 (QLoRA).
    Nf4,
    /// 4-bit float (E2M1).
    Fp4,
}

/// Arguments of `lpipe quantize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A `.safetensors` file or a Hugging Face model directory.
    pub input: PathBuf,
    /// Output file (for a file input) or directory (for a directory input).
    #[arg(short, long)]
    pub output: PathBuf,
    /// 4-bit data type.
    #[arg(long = "type", value_enum, default_value = "nf4")]
    pub quant_type: TypeArg,
    /// Also quantize the absmax statistics (8-bit, blocks of 256), as QLoRA does.
    #[arg(long)]
    pub double_quant: bool,
    /// Elements per absmax block: a power of two from 32 to 4096.
    #[arg(long, default_value_t = 64)]
    pub block_size: usize,
    /// Keep weights whose name contains this unquantized (repeatable).
    #[arg(long = "skip", value_name = "NAME")]
    pub skip: Vec<String>,
    /// Replace the output if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `lpipe quantize`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let opts = QuantizeOptions {
        quant_type: match args.quant_type {
            TypeArg::Nf4 => QuantType::Nf4,
            TypeArg::Fp4 => QuantType::Fp4,
        },
        double_quant: args.double_quant,
        block_size: args.block_size,
        skip: args.skip,
        force: args.force,
    };
    let start = Instant::now();
    let summary = quantize_checkpoint(&args.input, &args.output, &opts)?;
    let secs = start.elapsed().as_secs_f64();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "quantized {} weights to {}{} (block {}), kept {} tensors: {:.1} MiB -> {:.1} MiB total, {:.2}s",
        summary.quantized,
        opts.quant_type,
        if opts.double_quant {
            " + double quant"
        } else {
            ""
        },
        opts.block_size,
        summary.kept,
        mib(summary.bytes_before),
        mib(summary.bytes_after),
        secs
    );
    for f in &summary.files {
        println!("  wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
