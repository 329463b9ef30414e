//! `lpipe explain E107`: what a diagnostic code means, with its example, from the same text as
//! docs/diagnostics.md (language codes: explanation, input and output) and docs/codes/*.md (the
//! loader's, planner's, data's, … codes: their table row), compiled into the binary so it works
//! away from a checkout.

use std::process::ExitCode;

/// The documentation the explanations come from, as (file, text).
const DOCS: &[(&str, &str)] = &[
    (
        "docs/diagnostics.md",
        include_str!("../../docs/diagnostics.md"),
    ),
    (
        "docs/codes/data.md",
        include_str!("../../docs/codes/data.md"),
    ),
    (
        "docs/codes/eval.md",
        include_str!("../../docs/codes/eval.md"),
    ),
    (
        "docs/codes/model.md",
        include_str!("../../docs/codes/model.md"),
    ),
    (
        "docs/codes/plan.md",
        include_str!("../../docs/codes/plan.md"),
    ),
    (
        "docs/codes/quant.md",
        include_str!("../../docs/codes/quant.md"),
    ),
    ("docs/codes/run.md", include_str!("../../docs/codes/run.md")),
    (
        "docs/codes/sweep.md",
        include_str!("../../docs/codes/sweep.md"),
    ),
    (
        "docs/codes/tokenizer.md",
        include_str!("../../docs/codes/tokenizer.md"),
    ),
    (
        "docs/codes/training.md",
        include_str!("../../docs/codes/training.md"),
    ),
];

/// Arguments of `lpipe explain`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The code: `E107`, `e107` or `lpipe::E107`.
    pub code: String,
}

/// Runs `lpipe explain`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    match explain(&args.code) {
        Some(text) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "error: no diagnostic `{}`; codes look like `E107` (docs/diagnostics.md lists the \
                 language's, docs/codes/ the others')",
                args.code.trim()
            );
            Ok(ExitCode::from(super::EXIT_USAGE))
        }
    }
}

/// The explanation of `code`, if it is documented.
pub fn explain(code: &str) -> Option<String> {
    let code = code.trim();
    let code = code
        .strip_prefix("lpipe::")
        .unwrap_or(code)
        .to_ascii_uppercase();
    let valid =
        code.len() == 4 && code.starts_with('E') && code[1..].chars().all(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    // A language code has its own section: everything up to the next heading.
    let (_, diagnostics) = DOCS[0];
    if let Some(at) = diagnostics.find(&format!("\n## {code}\n")) {
        let body = &diagnostics[at + 1..];
        let end = body[3..].find("\n## ").map_or(body.len(), |e| e + 4);
        return Some(format!("lpipe::{}", body[3..end].trim_end()));
    }
    // Other codes: the table row in docs/codes/, with the page's title for context.
    for (file, text) in &DOCS[1..] {
        let row = text.lines().find(|l| {
            l.starts_with('|')
                && l.split('|').nth(1).is_some_and(|c| {
                    c.trim().trim_matches('`').trim_start_matches("lpipe::") == code
                })
        });
        if let Some(row) = row {
            let title = text.lines().next().unwrap_or("").trim_start_matches("# ");
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let meaning = cells.get(2).copied().unwrap_or("");
            let example = cells.get(3).copied().filter(|e| !e.is_empty());
            let mut out = format!("lpipe::{code}: {meaning}\n\n({title}; {file})");
            if let Some(example) = example {
                out =
                    format!("lpipe::{code}: {meaning}\n\nExample: {example}\n\n({title}; {file})");
            }
            return Some(out);
        }
    }
    None
}
