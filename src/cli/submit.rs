//! `lpipe submit`: a sweep as one Slurm job array, one task per point, sharing the cache.
//!
//! The points are the checker's expansion (`ir::Pipeline.runs`), the list `lpipe run --point K`
//! indexes, so task `K` and run `K` are the same point by construction.

use std::path::PathBuf;
use std::process::ExitCode;

use miette::IntoDiagnostic;

use crate::check::check_file;
use crate::cli::check::print_diagnostics;
use crate::stages::context::sweep_dir;
use crate::sweep::slurm::{SlurmPlan, gpus_needed};

/// Arguments of `lpipe submit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pipeline file whose sweep points become array tasks.
    pub file: PathBuf,
    /// Submit to Slurm with `sbatch --array` (the only scheduler so far).
    #[arg(long)]
    pub slurm: bool,
    /// Override a key of every point (`--set train.max_iters=100`), forwarded to each task; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Slurm partition (default: the cluster's default partition).
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per sweep point (default: what the pipeline's device needs, one for `cuda(0)`).
    #[arg(long, value_name = "N")]
    pub gpus_per_run: Option<u32>,
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
    /// Evaluation data directory forwarded to `lpipe run --data-dir` (made absolute).
    #[arg(long, default_value = crate::eval::data::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// Re-run points that already finished (`lpipe run --force`).
    #[arg(long)]
    pub force: bool,
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
    // Tasks start in this directory but may resolve the file from elsewhere: pass it absolute.
    let file = std::path::absolute(&args.file).into_diagnostic()?;
    let checked = check_file(&file, &args.sets);
    print_diagnostics(&checked.diagnostics);
    let Some(pipeline) = checked.pipeline else {
        return Ok(ExitCode::from(super::EXIT_DIAGNOSTICS));
    };
    let workdir = std::env::current_dir().into_diagnostic()?;
    // `runs_dir` is relative to the working directory, which every task shares (`--chdir`).
    let sweep = std::path::absolute(sweep_dir(&pipeline)).into_diagnostic()?;
    let points: Vec<String> = pipeline
        .runs
        .iter()
        .map(|r| crate::stages::rundir::sanitize(&r.name))
        .collect();
    let cache = std::path::absolute(crate::cache::cache_dir()).into_diagnostic()?;
    let lpipe = std::env::current_exe().into_diagnostic()?;
    let data_dir = std::path::absolute(&args.data_dir).into_diagnostic()?;
    let mut extra: Vec<String> = args
        .sets
        .iter()
        .flat_map(|s| ["--set".to_string(), s.clone()])
        .collect();
    extra.extend(["--data-dir".to_string(), data_dir.display().to_string()]);
    extra.push("--quiet".into());
    if args.force {
        extra.push("--force".into());
    }
    let mut plan = SlurmPlan::new(&lpipe, &file, sweep, points, workdir, cache.clone());
    plan.command = SlurmPlan::lpipe_run(&lpipe, &file, &extra);
    plan.partition = args.partition;
    let needed = gpus_needed(&pipeline);
    plan.gpus_per_run = args.gpus_per_run.unwrap_or(needed);
    if plan.gpus_per_run < needed {
        eprintln!(
            "lpipe: warning: the points run on a GPU and need {needed} each, but each task \
             requests {}; Slurm gives them none unless the partition does by default (drop \
             --gpus-per-run to request {needed})",
            plan.gpus_per_run
        );
    }
    plan.shared_paths = [lpipe.clone(), file.clone(), cache, data_dir]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
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
