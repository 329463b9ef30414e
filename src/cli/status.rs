//! `lpipe status`.

use std::process::ExitCode;

/// Arguments of `lpipe status`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe status`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("status")
}
