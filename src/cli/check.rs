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
    /// Also resolve every run's inputs (model, tokenizer, dataset files, evaluation data) and
    /// open its device, as `lpipe run` does before it starts.
    #[arg(long)]
    pub resources: bool,
    /// Evaluation data for eval stages that name none (with `--resources`).
    #[arg(long, default_value = crate::eval::data::DEFAULT_DIR)]
    pub data_dir: PathBuf,
}

/// Prints any diagnostic (a preflight's, a loader's) as [`print_diagnostics`] does.
pub fn print_report(diagnostic: &dyn miette::Diagnostic) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(theme).with_width(if color { 100 } else { 80 });
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = diagnostic.to_string();
    }
    eprintln!("{out}");
}

/// Resolves every input of `runs` and opens their devices; prints each problem and says whether
/// there was any.
pub fn preflight<'a>(
    runs: impl IntoIterator<Item = &'a crate::ir::Run> + Clone,
    checked: &Checked,
    data_dir: &std::path::Path,
) -> bool {
    let missing = crate::check::resources::missing_inputs(runs.clone(), checked, data_dir);
    for m in &missing {
        print_report(m);
    }
    let device = crate::check::device::preflight(runs, checked);
    if let Err(e) = &device {
        print_report(e.as_ref());
    }
    missing.is_empty() && device.is_ok()
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
        if args.resources
            && let Some(pipeline) = &checked.pipeline
            && !preflight(&pipeline.runs, &checked, &args.data_dir)
        {
            failed = true;
            if !args.quiet {
                println!("{}: inputs missing (above)", file.display());
            }
            continue;
        }
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
