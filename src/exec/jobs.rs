//! `lpipe run --jobs N`: several sweep points at once, each in its own `lpipe run --point K`
//! process (a crash or out-of-memory kill takes one run down, not the sweep), as many as the
//! memory planner says fit in what the machine has free; otherwise one after another.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::run::{EXIT_TIMED_OUT, RunOptions, Store, run_point, run_points};
use crate::ir::{Pipeline, Run};
use crate::plan::slots::slots_for;
use crate::stages::rundir::RunDir;
use crate::stages::rundir::{RunOutcome, finish};
use crate::stages::{ExecError, log};

/// One run process.
struct Running<'a> {
    run: &'a Run,
    dir: RunDir,
    log: PathBuf,
    child: Child,
    started: Instant,
}

/// Runs `indices` of `pipeline` with up to `opts.jobs` processes at once.
pub fn run_parallel(
    pipeline: &Pipeline,
    indices: &[usize],
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<Vec<RunOutcome>, ExecError> {
    let mut outcomes = Vec::new();
    let mut pending: Vec<(usize, &Run)> = Vec::new();
    for (i, run) in indices
        .iter()
        .filter_map(|&i| Some((i, pipeline.runs.get(i)?)))
    {
        match RunDir::for_run(pipeline, run)?.finished_earlier(run, opts.force) {
            Some(skipped) => outcomes.push(skipped),
            None => pending.push((i, run)),
        }
    }
    if pending.is_empty() {
        return Ok(outcomes);
    }
    let runs: Vec<&Run> = pending.iter().map(|(_, r)| *r).collect();
    let slots = slots_for(pipeline, &runs, opts.jobs);
    let (todo, at_once, why) = (pending.len(), slots.jobs, &slots.reason);
    log(format!(
        "jobs: {todo} run(s) to do, {at_once} at a time ({why})"
    ));
    if slots.jobs <= 1 {
        let seq: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
        outcomes.extend(run_points(pipeline, &seq, opts, stop)?);
        return Ok(outcomes);
    }

    prepare(pipeline, &pending, opts, stop);

    let total = indices.len();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut queue = pending.into_iter();
    let mut running: Vec<Running> = Vec::new();
    loop {
        while running.len() < slots.jobs && !stop.load(Ordering::SeqCst) {
            let Some((i, run)) = queue.next() else {
                break;
            };
            match spawn(pipeline, i, run, opts) {
                Ok(r) => {
                    let (name, pid, file) = (&run.name, r.child.id(), r.log.display());
                    log(format!("run {name}: started (process {pid}, log {file})"));
                    running.push(r);
                }
                Err(e) => failed.push((run.name.clone(), e.to_string())),
            }
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        let mut still = Vec::new();
        for mut r in running.drain(..) {
            match r.child.try_wait() {
                Ok(None) => still.push(r),
                Ok(Some(status)) => {
                    let wall = r.started.elapsed().as_secs_f64();
                    let (name, log_file) = (&r.run.name, r.log.display());
                    // 130 is Ctrl-C; both it and `max_time` leave a resumable checkpoint.
                    let stopped = match status.code() {
                        Some(0) => None,
                        Some(130) => Some(false),
                        Some(EXIT_TIMED_OUT) => Some(true),
                        _ => {
                            let message = crate::diag::error_of_log(&r.log, &status.to_string());
                            log(format!(
                                "run {name}: failed after {wall:.1}s: {message} (log {log_file})"
                            ));
                            failed.push((name.clone(), message));
                            continue;
                        }
                    };
                    let how = match stopped {
                        None => format!("finished in {wall:.1}s"),
                        Some(true) => "max_time reached (resumable)".into(),
                        Some(false) => "interrupted (resumable)".into(),
                    };
                    log(format!("run {name}: {how}"));
                    outcomes.push(RunOutcome::new(r.run, &r.dir, false, stopped));
                }
                Err(e) => failed.push((
                    r.run.name.clone(),
                    format!("cannot wait for its process: {e}"),
                )),
            }
        }
        running = still;
    }
    // The processes ran single points; the report over all of them is this process's.
    let report = pipeline.runs.iter().find_map(|r| r.config.report.as_ref());
    if let (Some(report), false) = (report, stop.load(Ordering::SeqCst)) {
        crate::stages::report::write_logged(report, &crate::stages::context::sweep_dir(pipeline))?;
    }
    finish(outcomes, failed, total)
}

/// Runs the nodes the runs share (model, quantization, data, base evaluation) in this process,
/// each distinct key once, so that the run processes find them in the on-disk caches instead of
/// all computing them at once.
fn prepare(pipeline: &Pipeline, pending: &[(usize, &Run)], opts: &RunOptions, stop: &AtomicBool) {
    let mut store = Store::default();
    for (_, run) in pending {
        let name = &run.name;
        log(format!("shared stages: preparing once for run {name}"));
        // A failure here is the run's own failure: its process reports it in full.
        if let Err(e) = run_point(pipeline, run, opts, stop, &mut store, true) {
            log(format!(
                "shared stages for run {name} failed ({e}); its process will report it"
            ));
        }
    }
}

/// Starts `lpipe run FILE --point K` with its output in the run directory's `run.log`.
fn spawn<'a>(
    pipeline: &Pipeline,
    index: usize,
    run: &'a Run,
    opts: &RunOptions,
) -> Result<Running<'a>, ExecError> {
    let dir = RunDir::for_run(pipeline, run)?;
    let log_path = dir.root().join("run.log");
    let file = std::fs::File::create(&log_path).map_err(|e| ExecError::write(&log_path, e))?;
    let err = file
        .try_clone()
        .map_err(|e| ExecError::write(&log_path, e))?;
    let exe = std::env::current_exe().map_err(|e| ExecError::write(&log_path, e))?;
    let mut args: Vec<std::ffi::OsString> = vec!["run".into(), pipeline.source.clone().into()];
    args.extend(["--point".into(), index.to_string().into(), "--quiet".into()]);
    args.extend(["--data-dir".into(), opts.data_dir.clone().into()]);
    args.extend(opts.sets.iter().flat_map(|s| ["--set".into(), s.into()]));
    args.extend(opts.force.then(|| "--force".into()));
    let child = Command::new(exe)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| ExecError::Spawn {
            run: run.name.clone(),
            message: e.to_string(),
        })?;
    Ok(Running {
        run,
        dir,
        log: log_path,
        child,
        started: Instant::now(),
    })
}
