//! `lpipe generate`.

use std::process::ExitCode;

/// Arguments of `lpipe generate`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe generate`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("generate")
}
