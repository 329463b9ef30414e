//! `lpipe export`.

use std::process::ExitCode;

/// Arguments of `lpipe export`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe export`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("export")
}
