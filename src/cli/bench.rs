//! `lpipe bench`.

use std::process::ExitCode;

/// Arguments of `lpipe bench`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe bench`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("bench")
}
