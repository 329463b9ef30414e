//! `lpipe report`: one table of several runs side by side, one row per run, as the seed article's
//! comparison tables: summary values (swept settings, parameters, wall time, losses) from each run's
//! `summary.json`, then every evaluation score from its `eval.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::eval::table::Format;
use crate::sweep::report::{build_table, collect_runs};

/// Arguments of `lpipe report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run directories, or sweep directories whose subdirectories are runs.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also show the tasks inside groups (the 57 MMLU subjects, the BLiMP paradigms, …).
    #[arg(long)]
    pub subtasks: bool,
    /// Leave out standard errors.
    #[arg(long)]
    pub no_stderr: bool,
    /// Also write SVG and PNG figures (loss curves, each metric against each swept value) into
    /// `figures/` inside the first path.
    #[arg(long)]
    pub plot: bool,
    /// Write the figures into DIR instead (implies --plot).
    #[arg(long, value_name = "DIR")]
    pub plot_dir: Option<PathBuf>,
}

/// Runs `lpipe report`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let runs = collect_runs(&args.runs)?;
    let table = build_table(
        &runs,
        args.subtasks,
        !args.no_stderr,
        args.format == Format::Csv,
    );
    print!("{}", table.render(args.format));
    if args.plot || args.plot_dir.is_some() {
        let out = match &args.plot_dir {
            Some(d) => d.clone(),
            None => args
                .runs
                .first()
                .map(|r| r.join("figures"))
                .unwrap_or_else(|| PathBuf::from("figures")),
        };
        for path in crate::sweep::plot_runs(&args.runs, &out)? {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
