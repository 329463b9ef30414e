//! `lpipe run`: execute a pipeline (every sweep point, or one with `--point`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::check::check_file;
use crate::cli::check::print_diagnostics;
use crate::exec::{RunOptions, run_pipeline};

/// Arguments of `lpipe run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pipeline file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Override a key before running (`--set lora.r=16`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Run only this sweep point (0-based, as `lpipe plan` numbers them).
    #[arg(long)]
    pub point: Option<usize>,
    /// Re-run runs that already finished.
    #[arg(long)]
    pub force: bool,
    /// Evaluation data directory (the `../shared/data` layout) for eval stages that name none.
    #[arg(long, default_value = crate::eval::data::DEFAULT_DIR)]
    pub data_dir: PathBuf,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Run up to N sweep points at once, each in its own process, as many as fit in free memory
    /// by the planner's estimate (fewer, or one at a time, otherwise).
    #[arg(long, short = 'j', default_value_t = 1, value_name = "N")]
    pub jobs: usize,
}

/// Runs `lpipe run`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let checked = check_file(&args.file, &args.sets);
    print_diagnostics(&checked.diagnostics);
    let Some(pipeline) = &checked.pipeline else {
        return Ok(ExitCode::from(super::EXIT_DIAGNOSTICS));
    };
    // A missing input or a backend this binary lacks is reported now, pointing at its key,
    // before a run directory is made or a weight is read.
    let runs: Vec<&crate::ir::Run> = (pipeline.runs.iter().enumerate())
        .filter(|(i, _)| args.point.is_none_or(|p| p == *i))
        .map(|(_, r)| r)
        .collect();
    if !super::check::preflight(runs.iter().copied(), &checked, &args.data_dir) {
        return Ok(ExitCode::from(super::EXIT_DIAGNOSTICS));
    }
    // The first Ctrl-C asks the trainer to checkpoint and stop; a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nlpipe: stopping after this step (Ctrl-C again to abort without a checkpoint)");
    });
    if let Err(e) = handler {
        eprintln!(
            "lpipe: warning: cannot catch Ctrl-C ({e}): it will end the run without a checkpoint; \
             `train.max_time` still stops cleanly"
        );
    }
    if args.jobs == 0 {
        eprintln!("error: `--jobs` must be at least 1");
        return Ok(ExitCode::from(super::EXIT_USAGE));
    }
    let opts = RunOptions {
        point: args.point,
        force: args.force,
        data_dir: args.data_dir,
        progress: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        jobs: args.jobs,
        sets: args.sets.clone(),
    };
    let outcomes = run_pipeline(pipeline, &opts, &stop)?;
    if outcomes.len() > 1 {
        eprintln!("\nlpipe: {} runs:", outcomes.len());
    }
    for o in &outcomes {
        let state = if o.skipped {
            "finished earlier, skipped"
        } else if o.timed_out {
            "stopped at max_time (resumable)"
        } else if o.interrupted {
            "interrupted (resumable)"
        } else {
            "finished"
        };
        eprintln!("lpipe: run {} {state}: {}", o.name, o.dir.display());
    }
    if outcomes.iter().any(|o| o.interrupted && !o.timed_out) {
        return Ok(ExitCode::from(130));
    }
    if outcomes.iter().any(|o| o.timed_out) {
        return Ok(ExitCode::from(crate::exec::run::EXIT_TIMED_OUT as u8));
    }
    Ok(ExitCode::SUCCESS)
}
