//! `lpipe status`: each sweep point's state from its run directory and Slurm.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use miette::IntoDiagnostic;

use crate::eval::table::{Format, Table};
use crate::sweep::SweepError;
use crate::sweep::slurm::read_submission;
use crate::sweep::status::{PointStatus, State, counts, sweep_status_of};

/// Arguments of `lpipe status`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The sweep directory (`runs/<pipeline>`), or the pipeline file (then points that have
    /// not started yet are listed too).
    pub sweep: PathBuf,
    /// Override a key, as given to `lpipe run`/`submit` (with a pipeline file); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Only read the files; do not ask squeue/sacct.
    #[arg(long)]
    pub no_slurm: bool,
    /// Poll until no point is pending or running.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (0: never).
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub timeout: u64,
    /// Seconds between polls.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub interval: u64,
    /// Output format (`json` prints one object per point).
    #[arg(long, value_enum, default_value = "table")]
    pub format: StatusFormat,
}

/// How `lpipe status` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    /// Aligned columns.
    Table,
    /// A Markdown table.
    Markdown,
    /// CSV.
    Csv,
    /// JSON lines.
    Json,
}

/// Runs `lpipe status`; exits 1 when a point failed (or waiting timed out).
pub fn run(mut args: Args) -> miette::Result<ExitCode> {
    let start = Instant::now();
    // A pipeline file names its sweep directory and every point, started or not.
    let mut expected = None;
    if args.sweep.is_file() {
        let checked = crate::check::check_file(&args.sweep, &args.sets);
        crate::cli::check::print_diagnostics(&checked.diagnostics);
        let Some(pipeline) = checked.pipeline else {
            return Ok(ExitCode::from(super::EXIT_DIAGNOSTICS));
        };
        expected = Some(
            pipeline
                .runs
                .iter()
                .map(|r| crate::stages::rundir::sanitize(&r.name))
                .collect::<Vec<_>>(),
        );
        args.sweep = crate::stages::context::sweep_dir(&pipeline);
    }
    let points = loop {
        let points = sweep_status_of(&args.sweep, expected.clone(), !args.no_slurm)?;
        let busy = points
            .iter()
            .any(|p| matches!(p.state, State::Pending | State::Running));
        if !args.wait || !busy {
            break points;
        }
        if args.timeout > 0 && start.elapsed() >= Duration::from_secs(args.timeout) {
            print(&args, &points)?;
            return Err(SweepError::Slurm {
                command: format!("lpipe status --wait {}", args.sweep.display()),
                message: format!("points still pending or running after {}s", args.timeout),
            }
            .into());
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    };
    print(&args, &points)?;
    let failed = points.iter().any(|p| p.state == State::Failed);
    Ok(if failed {
        ExitCode::from(super::EXIT_DIAGNOSTICS)
    } else {
        ExitCode::SUCCESS
    })
}

fn print(args: &Args, points: &[PointStatus]) -> miette::Result<()> {
    if args.format == StatusFormat::Json {
        for p in points {
            println!("{}", serde_json::to_string(p).into_diagnostic()?);
        }
        return Ok(());
    }
    let mut table = Table::new(["point", "task", "state", "slurm", "detail"]);
    for p in points {
        table.rows.push(vec![
            p.name.clone(),
            p.index.to_string(),
            p.state.as_str().to_string(),
            p.slurm.clone().unwrap_or_default(),
            p.detail.clone(),
        ]);
    }
    let format = match args.format {
        StatusFormat::Markdown => Format::Markdown,
        StatusFormat::Csv => Format::Csv,
        _ => Format::Table,
    };
    if format == Format::Table {
        let job = read_submission(&args.sweep)?
            .map(|s| format!(" (Slurm job {})", s.job_id))
            .unwrap_or_default();
        println!("sweep {}{job}", args.sweep.display());
    }
    print!("{}", table.render(format));
    if format == Format::Table {
        let summary: Vec<String> = counts(points)
            .into_iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        println!("{}", summary.join(", "));
    }
    Ok(())
}
