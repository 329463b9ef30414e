//! `lpipe fmt`: rewrite pipeline files canonically (idempotent; comments kept).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::check::print_diagnostics;
use crate::diag::LangDiagnostic;
use crate::source::SourceFile;
use crate::span::FileId;
use crate::syntax::format::format_file;
use crate::syntax::parser::parse_file;

/// Arguments of `lpipe fmt`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files to format.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Do not write; exit 1 if any file is not formatted.
    #[arg(long)]
    pub check: bool,
}

/// Formats source text; syntax errors are returned as diagnostics.
pub fn format_source(name: &Path, text: &str) -> Result<String, Vec<LangDiagnostic>> {
    let source = SourceFile::new(name, text);
    let file = parse_file(&source, FileId(0))?;
    Ok(format_file(&file, text))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".lpipe-fmt.tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Runs `lpipe fmt`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let mut failed = false;
    for file in &args.files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                print_diagnostics(&[LangDiagnostic::ReadFile {
                    path: file.display().to_string(),
                    reason: e.to_string(),
                }]);
                failed = true;
                continue;
            }
        };
        let formatted = match format_source(file, &text) {
            Ok(f) => f,
            Err(diags) => {
                print_diagnostics(&diags);
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if args.check {
            println!("would reformat {}", file.display());
            failed = true;
        } else if let Err(e) = write_atomic(file, &formatted) {
            print_diagnostics(&[LangDiagnostic::ReadFile {
                path: file.display().to_string(),
                reason: format!("cannot write: {e}"),
            }]);
            failed = true;
        } else {
            println!("formatted {}", file.display());
        }
    }
    Ok(if failed {
        ExitCode::from(super::EXIT_DIAGNOSTICS)
    } else {
        ExitCode::SUCCESS
    })
}
