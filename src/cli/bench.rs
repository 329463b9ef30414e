//! `lpipe bench`.

use std::process::ExitCode;

/// Arguments of `lpipe bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: Which,
}

/// The benchmarks.
#[derive(clap::Subcommand, Debug)]
pub enum Which {
    /// 4-bit quantize/dequantize throughput (vs memcpy) and the 4-bit linear layer vs dense.
    Quant(crate::bench::quant::Args),
}

/// Runs `lpipe bench`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    match args.which {
        Which::Quant(a) => crate::bench::quant::run(&a)?,
    }
    Ok(ExitCode::SUCCESS)
}
