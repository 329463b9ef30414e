//! `lpipe run`.

use std::process::ExitCode;

/// Arguments of `lpipe run`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe run`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("run")
}
