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
    /// LoRA training-step tokens/s of lpipe and PyTorch + PEFT on the same model.
    Train(crate::bench::train::Options),
}

/// Runs `lpipe bench`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    match args.which {
        Which::Forward(opts) => {
            let rows = crate::bench::forward::run(&opts)?;
            print!("{}", crate::bench::forward::table(&rows, &opts));
            Ok(ExitCode::SUCCESS)
        }
        Which::Train(opts) => {
            let rows = crate::bench::train::run(&opts)?;
            print!("{}", crate::bench::train::table(&rows, &opts));
            Ok(ExitCode::SUCCESS)
        }
    }
}
