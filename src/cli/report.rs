//! `lpipe report`.

use std::process::ExitCode;

/// Arguments of `lpipe report`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe report`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("report")
}
