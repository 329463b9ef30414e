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
    /// Forward-pass tokens/s of lpipe and transformers on the same model.
    Forward(crate::bench::forward::Options),
    /// CPU 4-bit dequantize throughput and the QLoRA/LoRA training-step time ratio.
    Qlora(crate::bench::qlora::Options),
    /// Alpaca tokenization throughput of lpipe, sentencepiece and HF tokenizers.
    Tokenize(crate::bench::tokenize::Options),
}

/// Runs `lpipe bench`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    match args.which {
        Which::Forward(opts) => {
            let rows = crate::bench::forward::run(&opts)?;
            print!("{}", crate::bench::forward::table(&rows, &opts));
        }
        Which::Qlora(opts) => {
            let report = crate::bench::qlora::run(&opts)?;
            print!("{}", crate::bench::qlora::table(&report));
        }
        Which::Tokenize(opts) => {
            let rows = crate::bench::tokenize::run(&opts)?;
            print!("{}", crate::bench::tokenize::table(&rows, opts.records));
        }
    }
    Ok(ExitCode::SUCCESS)
}
