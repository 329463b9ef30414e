//! `lpipe submit`: a sweep as one Slurm job array, one task per point, sharing the cache.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use miette::IntoDiagnostic;

use crate::sweep::SweepError;
use crate::sweep::slurm::SlurmPlan;

/// Arguments of `lpipe submit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pipeline file whose sweep points become array tasks.
    pub file: PathBuf,
    /// Submit to Slurm with `sbatch --array` (the only scheduler so far).
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition (default: the cluster's default partition).
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per sweep point.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub gpus_per_run: u32,
    /// CPU cores per sweep point.
    #[arg(long, value_name = "N")]
    pub cpus_per_run: Option<u32>,
    /// Memory per sweep point (`16G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// Time limit per sweep point (`90`, `4:00:00`, `1-12:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// Most points running at once.
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<u32>,
    /// Where run directories go (`<runs>/<pipeline>/<point>/`).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Point names in sweep order (default: the file's sweep).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub points: Vec<String>,
    /// Write the script and print it, without submitting.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `lpipe submit`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    if !args.slurm {
        eprintln!(
            "error: choose a scheduler: `lpipe submit {} --slurm`",
            args.file.display()
        );
        return Ok(ExitCode::from(super::EXIT_USAGE));
    }
    let file = std::path::absolute(&args.file).into_diagnostic()?;
    if !file.is_file() {
        return Err(
            SweepError::io(&file, std::io::Error::from(std::io::ErrorKind::NotFound)).into(),
        );
    }
    let (pipeline, points) = sweep_points(&file, &args.points)?;
    let runs = std::path::absolute(&args.runs).into_diagnostic()?;
    let workdir = std::env::current_dir().into_diagnostic()?;
    let cache = std::path::absolute(crate::cache::cache_dir()).into_diagnostic()?;
    let lpipe = std::env::current_exe().into_diagnostic()?;
    let mut plan = SlurmPlan::new(
        &lpipe,
        &file,
        runs.join(dir_name(&pipeline)),
        points,
        workdir,
        cache,
    );
    plan.partition = args.partition;
    plan.gpus_per_run = args.gpus_per_run;
    plan.cpus_per_run = args.cpus_per_run;
    plan.mem = args.mem;
    plan.time = args.time;
    plan.max_parallel = args.max_parallel;

    let n = plan.points.len();
    if args.dry_run {
        let script = plan.write()?;
        print!("{}", plan.script());
        eprintln!(
            "dry run: wrote {} ({n} tasks), not submitted; submit it with `sbatch {}`",
            script.display(),
            script.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let submission = plan.submit()?;
    println!(
        "submitted job {}: {n} tasks ({}); script {}",
        submission.job_id,
        plan.points.join(", "),
        submission.script.display()
    );
    println!("follow it with `lpipe status {}`", plan.sweep_dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The pipeline's name and its sweep's point names, in sweep order (task `K` = point `K`).
///
/// Until the sweep expansion is wired in, the names come from `--points`.
fn sweep_points(file: &Path, given: &[String]) -> Result<(String, Vec<String>), SweepError> {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into());
    if given.is_empty() {
        return Err(SweepError::Empty {
            what: "submit",
            message: format!(
                "pass the point names with `--points` (sweep expansion of `{}` is not wired in yet)",
                file.display()
            ),
        });
    }
    Ok((name, given.to_vec()))
}

/// The sweep directory's name for a pipeline (as `exec::rundir` names it).
fn dir_name(pipeline: &str) -> String {
    let cleaned: String = pipeline
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.trim_matches('.') {
        "" => "_".into(),
        s => s.into(),
    }
}
