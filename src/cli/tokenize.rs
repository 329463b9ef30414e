//! `lpipe tokenize`.

use std::process::ExitCode;

/// Arguments of `lpipe tokenize`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe tokenize`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("tokenize")
}
