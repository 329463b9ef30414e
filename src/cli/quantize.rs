//! `lpipe quantize`.

use std::process::ExitCode;

/// Arguments of `lpipe quantize`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe quantize`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("quantize")
}
