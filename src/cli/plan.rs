//! `lpipe plan`.

use std::process::ExitCode;

/// Arguments of `lpipe plan`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe plan`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("plan")
}
