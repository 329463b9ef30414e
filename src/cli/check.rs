//! `lpipe check`: validate pipeline files and report every problem at once.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::{Checked, check_file};
use crate::diag::{LangDiagnostic, render_with};

/// Arguments of `lpipe check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pipeline files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Override a key before checking (`--set lora.r=16`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print only diagnostics, no per-file summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Prints diagnostics to stderr (colour only on a terminal without NO_COLOR).
pub fn print_diagnostics(diagnostics: &[LangDiagnostic]) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let width = if color { 100 } else { 80 };
    for diag in diagnostics {
        eprint!("{}", render_with(diag, theme.clone(), width));
        eprintln!();
    }
}

/// One line about a checked file.
pub fn summary(file: &std::path::Path, checked: &Checked) -> String {
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = checked.diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match &checked.pipeline {
        Some(p) if warnings == 0 => {
            format!("{}: ok ({})", file.display(), plural(p.runs.len(), "run"))
        }
        Some(p) => format!(
            "{}: ok ({}, {})",
            file.display(),
            plural(p.runs.len(), "run"),
            plural(warnings, "warning")
        ),
        None => format!(
            "{}: {}, {}",
            file.display(),
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

/// Runs `lpipe check`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let mut failed = false;
    for file in &args.files {
        let checked = check_file(file, &args.sets);
        print_diagnostics(&checked.diagnostics);
        failed |= checked.has_errors();
        if !args.quiet {
            println!("{}", summary(file, &checked));
        }
    }
    Ok(if failed {
        ExitCode::from(super::EXIT_DIAGNOSTICS)
    } else {
        ExitCode::SUCCESS
    })
}
