//! `lpipe check`.

use std::process::ExitCode;

/// Arguments of `lpipe check`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe check`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("check")
}
