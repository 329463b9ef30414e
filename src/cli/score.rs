//! `lpipe score`.

use std::process::ExitCode;

/// Arguments of `lpipe score`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe score`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("score")
}
