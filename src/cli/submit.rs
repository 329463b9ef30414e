//! `lpipe submit`.

use std::process::ExitCode;

/// Arguments of `lpipe submit`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe submit`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("submit")
}
