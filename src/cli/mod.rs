//! The `lpipe` command line: one file per subcommand, each exposing `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod bench;
pub mod check;
pub mod explain;
pub mod export;
pub mod fmt;
pub mod generate;
pub mod plan;
pub mod quantize;
pub mod report;
pub mod run;
pub mod score;
pub mod status;
pub mod submit;
pub mod tokenize;

/// Exit code for a run that reported diagnostics with errors.
pub const EXIT_DIAGNOSTICS: u8 = 1;
/// Exit code for a usage error (clap uses the same).
pub const EXIT_USAGE: u8 = 2;

/// `lpipe --version`: the version and the device backends compiled in, so a user can tell a
/// CPU-only build from a CUDA one before a run refuses `device = cuda(0)`.
#[cfg(all(feature = "cuda", feature = "wgpu"))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu, cuda, wgpu)");
/// See the first `VERSION`.
#[cfg(all(feature = "cuda", not(feature = "wgpu")))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu, cuda)");
/// See the first `VERSION`.
#[cfg(all(not(feature = "cuda"), feature = "wgpu"))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu, wgpu)");
/// See the first `VERSION`.
#[cfg(not(any(feature = "cuda", feature = "wgpu")))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu)");

/// Declarative LoRA and QLoRA fine-tuning experiments.
#[derive(Parser, Debug)]
#[command(name = "lpipe", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate pipeline files and report every problem at once.
    Check(check::Args),
    /// Show the stage graph, sweep runs, parameter counts and memory estimates.
    Plan(plan::Args),
    /// Rewrite pipeline files canonically (comments kept).
    Fmt(fmt::Args),
    /// Explain a diagnostic code with an example (`lpipe explain E107`).
    Explain(explain::Args),
    /// Execute a pipeline: data, model, quantization, training, evaluation, export.
    Run(run::Args),
    /// Generate text from a model (optionally with a LoRA adapter).
    Generate(generate::Args),
    /// Print the log-probability of a continuation given a context.
    Score(score::Args),
    /// Print token ids for text or JSON records.
    Tokenize(tokenize::Args),
    /// Quantize a checkpoint to bitsandbytes NF4/FP4.
    Quantize(quantize::Args),
    /// Export an adapter, optionally merged into the base weights.
    Export(export::Args),
    /// Compare runs side by side (terminal, Markdown, CSV, plots).
    Report(report::Args),
    /// Submit a sweep to a Slurm cluster as a job array.
    Submit(submit::Args),
    /// Show the state of each run of a sweep.
    Status(status::Args),
    /// Benchmarks that print a table (throughput against references).
    Bench(bench::Args),
}

/// Parse the command line and dispatch.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Run(args) => run::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Score(args) => score::run(args),
        Command::Tokenize(args) => tokenize::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Export(args) => export::run(args),
        Command::Report(args) => report::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Status(args) => status::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(EXIT_DIAGNOSTICS)
        }
    }
}
