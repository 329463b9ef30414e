//! `lpipe fmt`.

use std::process::ExitCode;

/// Arguments of `lpipe fmt`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `lpipe fmt`.
pub fn run(_args: Args) -> miette::Result<ExitCode> {
    super::unavailable("fmt")
}
