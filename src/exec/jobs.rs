//! `lpipe run --jobs N`: several sweep points at once, each in its own `lpipe run --point K`
//! process (a crash or out-of-memory kill takes one run down, not the sweep), as many as the
//! memory planner says fit in what the machine has free; otherwise one after another.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::error::ExecError;
use super::run::{EXIT_TIMED_OUT, RunOptions, RunOutcome, SharedBase, finish, log, prepare_shared};
use super::rundir::RunDir;
use super::sysmem;
use crate::ir::{Device, Pipeline, Run};
use crate::plan::memory::format_gb;

/// What a run process may hold besides the planner's training-step peak (binary, allocator
/// pools, tokenizer, tokenized data). A margin, not a measurement: on SmolLM2-135M (CPU, f32,
/// r=4 on all layers) the planner says 1.65 GB and the whole process peaked at 1.07 GB resident,
/// so the estimate alone already covers it there; the margin is for models where it is tight.
pub const PROCESS_OVERHEAD_BYTES: u64 = 256 << 20;

/// Share of `MemAvailable` the runs may take together (the page cache and the parent keep the rest).
pub const MEMORY_SHARE: f64 = 0.9;

/// How many runs go side by side, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slots {
    /// Runs at once (at least 1).
    pub jobs: usize,
    /// The reason, for the log.
    pub reason: String,
}

/// The planner's peak-memory estimate of run `name` (`None` when it cannot tell).
pub fn estimate(pipeline: &Pipeline, name: &str) -> Option<u64> {
    let schedule = crate::plan::schedule::schedule(pipeline).ok()?;
    schedule
        .runs
        .into_iter()
        .find(|r| r.name == name)
        .and_then(|r| r.memory)
}

/// Decides how many of `per_run.len()` pending runs run at once: at most `requested`, and only as
/// many as fit in `available` bytes by the planner's estimates (the largest one counts for all).
pub fn decide(
    requested: usize,
    per_run: &[(String, Option<u64>)],
    available: Option<u64>,
) -> Slots {
    let pending = per_run.len();
    let one = |reason: String| Slots { jobs: 1, reason };
    if requested <= 1 || pending <= 1 {
        return one(format!("{pending} run(s) to do, --jobs {requested}"));
    }
    if let Some((name, _)) = per_run.iter().find(|(_, m)| m.is_none()) {
        return one(format!(
            "no memory estimate for run {name} (`lpipe plan` says why), so one at a time"
        ));
    }
    let Some(available) = available else {
        return one("free memory unknown on this device, so one at a time".into());
    };
    let largest = per_run.iter().filter_map(|(_, m)| *m).max().unwrap_or(0);
    let need = largest.saturating_add(PROCESS_OVERHEAD_BYTES).max(1);
    let budget = (available as f64 * MEMORY_SHARE) as u64;
    let fit = usize::try_from(budget / need).unwrap_or(usize::MAX);
    let jobs = requested.min(pending).min(fit).max(1);
    let why = format!(
        "each run needs about {} (planner {} + {} per process), {} of {} available may be used",
        format_gb(need),
        format_gb(largest),
        format_gb(PROCESS_OVERHEAD_BYTES),
        format_gb(budget),
        format_gb(available)
    );
    if fit < requested.min(pending) {
        Slots {
            jobs,
            reason: format!("{why}: only {} fit", fit.max(1)),
        }
    } else {
        Slots { jobs, reason: why }
    }
}

/// One run process.
struct Running {
    name: String,
    dir: PathBuf,
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
    for &i in indices {
        let Some(run) = pipeline.runs.get(i) else {
            continue;
        };
        let dir = RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
            .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
        if dir.is_finished() && !opts.force {
            log(format!(
                "run {}: finished earlier ({}), skipped",
                run.name,
                dir.summary().display()
            ));
            outcomes.push(RunOutcome {
                name: run.name.clone(),
                dir: dir.root().to_path_buf(),
                skipped: true,
                interrupted: false,
                timed_out: false,
            });
        } else {
            pending.push((i, run));
        }
    }
    if pending.is_empty() {
        return Ok(outcomes);
    }
    let per_run: Vec<(String, Option<u64>)> = pending
        .iter()
        .map(|(_, r)| (r.name.clone(), estimate(pipeline, &r.name)))
        .collect();
    let on_cpu = pending
        .iter()
        .all(|(_, r)| r.config.model.device == Device::Cpu);
    let available = if on_cpu {
        sysmem::mem_available_bytes()
    } else {
        None
    };
    let slots = decide(opts.jobs, &per_run, available);
    log(format!(
        "jobs: {} run(s) to do, {} at a time ({})",
        pending.len(),
        slots.jobs,
        slots.reason
    ));
    if slots.jobs <= 1 {
        let seq: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
        let sequential = RunOptions {
            jobs: 1,
            ..opts.clone()
        };
        let mut done = super::run::run_pipeline_indices(pipeline, &seq, &sequential, stop)?;
        outcomes.append(&mut done);
        return Ok(outcomes);
    }

    prepare(pipeline, &pending, opts);

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
                    log(format!(
                        "run {}: started (process {}, log {})",
                        r.name,
                        r.child.id(),
                        r.log.display()
                    ));
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
                    match status.code() {
                        Some(0) => {
                            log(format!("run {}: finished in {wall:.1}s", r.name));
                            outcomes.push(RunOutcome {
                                name: r.name,
                                dir: r.dir,
                                skipped: false,
                                interrupted: false,
                                timed_out: false,
                            });
                        }
                        Some(code @ (130 | EXIT_TIMED_OUT)) => {
                            let timed_out = code == EXIT_TIMED_OUT;
                            let why = if timed_out {
                                "max_time reached"
                            } else {
                                "interrupted"
                            };
                            log(format!("run {}: {why} (resumable)", r.name));
                            outcomes.push(RunOutcome {
                                name: r.name,
                                dir: r.dir,
                                skipped: false,
                                interrupted: true,
                                timed_out,
                            });
                        }
                        _ => {
                            let message = error_of(&r.log, &status.to_string());
                            log(format!(
                                "run {}: failed after {wall:.1}s: {message} (log {})",
                                r.name,
                                r.log.display()
                            ));
                            failed.push((r.name, message));
                        }
                    }
                }
                Err(e) => {
                    failed.push((r.name, format!("cannot wait for its process: {e}")));
                }
            }
        }
        running = still;
    }
    finish(outcomes, failed, total)
}

/// Runs the shared stages (model, quantization, data, base eval) once per distinct setting in
/// this process, so the run processes find them in the cache instead of all doing them at once.
fn prepare(pipeline: &Pipeline, pending: &[(usize, &Run)], opts: &RunOptions) {
    let mut seen = HashSet::new();
    let mut shared = SharedBase::default();
    for (_, run) in pending {
        let c = &run.config;
        let base_evals: Vec<_> = c
            .evals
            .iter()
            .filter(|e| e.on.contains(&crate::ir::EvalOn::Base))
            .collect();
        let key = format!(
            "{}|{}|{}|{}",
            serde_json::to_string(&c.model).unwrap_or_default(),
            serde_json::to_string(&c.quantize).unwrap_or_default(),
            serde_json::to_string(&c.dataset).unwrap_or_default(),
            serde_json::to_string(&base_evals).unwrap_or_default(),
        );
        if !seen.insert(key) {
            continue;
        }
        log(format!(
            "shared stages: preparing once (for run {})",
            run.name
        ));
        // A failure here is the run's own failure: its process reports it in full.
        if let Err(e) = prepare_shared(pipeline, run, opts, &mut shared) {
            log(format!(
                "shared stages for run {} failed ({e}); its process will report it",
                run.name
            ));
        }
    }
}

/// Starts `lpipe run FILE --point K` with its output in the run directory's `run.log`.
fn spawn(
    pipeline: &Pipeline,
    index: usize,
    run: &Run,
    opts: &RunOptions,
) -> Result<Running, ExecError> {
    let dir = RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
        .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
    let log_path = dir.root().join("run.log");
    let file = std::fs::File::create(&log_path).map_err(|e| ExecError::write(&log_path, e))?;
    let err = file
        .try_clone()
        .map_err(|e| ExecError::write(&log_path, e))?;
    let exe = std::env::current_exe().map_err(|e| ExecError::write(&log_path, e))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg(&pipeline.source)
        .arg("--point")
        .arg(index.to_string())
        .arg("--quiet")
        .arg("--data-dir")
        .arg(&opts.data_dir);
    for set in &opts.sets {
        cmd.arg("--set").arg(set);
    }
    if opts.force {
        cmd.arg("--force");
    }
    let child = cmd
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
        name: run.name.clone(),
        dir: dir.root().to_path_buf(),
        log: log_path,
        child,
        started: Instant::now(),
    })
}

/// The error a failed run process printed: miette's `×` line (with its code line), else the last
/// line of its log, else how it exited.
fn error_of(log: &std::path::Path, exit: &str) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let raw: Vec<&str> = text.lines().collect();
    let lines: Vec<&str> = raw.iter().map(|l| l.trim()).collect();
    if let Some(at) = lines.iter().rposition(|l| l.starts_with("× ")) {
        // The code heads the diagnostic, a line or two above its message (warnings come earlier).
        let code = lines
            .get(at.saturating_sub(3)..at)
            .and_then(|above| above.iter().rev().find(|l| l.starts_with("lpipe::E")))
            .map(|c| format!("{c}: "))
            .unwrap_or_default();
        let mut msg = lines
            .get(at)
            .map_or("", |l| l.trim_start_matches("× "))
            .to_string();
        // miette wraps long messages onto indented lines; the source excerpt and help follow.
        for (line, trimmed) in raw.iter().zip(&lines).skip(at + 1) {
            let boxed = ["help:", "╭", "│", "·", "╰", "─"]
                .iter()
                .any(|b| trimmed.starts_with(b));
            if trimmed.is_empty() || boxed || !line.starts_with("    ") {
                break;
            }
            msg.push(' ');
            msg.push_str(trimmed);
        }
        return format!("{code}{msg}");
    }
    match lines.iter().rev().find(|l| !l.is_empty()) {
        Some(last) => format!("{last} ({exit})"),
        None => format!("process {exit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn runs(n: usize, each: Option<u64>) -> Vec<(String, Option<u64>)> {
        (0..n).map(|i| (format!("r{i}"), each)).collect()
    }

    #[test]
    fn as_many_as_fit_in_memory_and_no_more_than_asked() {
        // 10 GiB free, 90% usable: 9 GiB / (1 GiB + 256 MiB) = 7 runs would fit.
        assert_eq!(decide(4, &runs(6, Some(GIB)), Some(10 * GIB)).jobs, 4);
        assert_eq!(decide(16, &runs(6, Some(GIB)), Some(10 * GIB)).jobs, 6);
        assert_eq!(decide(16, &runs(12, Some(GIB)), Some(10 * GIB)).jobs, 7);
        // 2.5 GiB free: only one fits, so the runs go one after another.
        let slots = decide(4, &runs(4, Some(GIB)), Some(5 * GIB / 2));
        assert_eq!(slots.jobs, 1);
        assert!(slots.reason.contains("only 1 fit"), "{}", slots.reason);
        // The largest run decides for all.
        let mut mixed = runs(3, Some(GIB / 4));
        mixed.push(("big".into(), Some(4 * GIB)));
        assert_eq!(decide(4, &mixed, Some(10 * GIB)).jobs, 2);
    }

    #[test]
    fn unknown_estimates_or_memory_mean_one_at_a_time() {
        let mut r = runs(3, Some(GIB));
        r.push(("mystery".into(), None));
        let slots = decide(4, &r, Some(100 * GIB));
        assert_eq!(slots.jobs, 1);
        assert!(slots.reason.contains("mystery"), "{}", slots.reason);
        assert_eq!(decide(4, &runs(3, Some(GIB)), None).jobs, 1);
        assert_eq!(decide(1, &runs(3, Some(GIB)), Some(100 * GIB)).jobs, 1);
        assert_eq!(decide(8, &runs(1, Some(GIB)), Some(100 * GIB)).jobs, 1);
    }

    #[test]
    fn the_error_line_of_a_failed_run_log() {
        let dir = std::env::temp_dir().join(format!("lpipe-jobs-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("run.log");
        std::fs::write(
            &log,
            "lpipe::E150\n\n  ⚠ a warning\nlpipe: model: loaded x\nlpipe::E801\n\n  × precision `bf16` is not\n    available\n  help: use f32\n",
        )
        .unwrap();
        assert_eq!(
            error_of(&log, "exit status: 1"),
            "lpipe::E801: precision `bf16` is not available"
        );
        std::fs::write(&log, "thread 'main' panicked\n").unwrap();
        assert_eq!(
            error_of(&log, "signal: 9"),
            "thread 'main' panicked (signal: 9)"
        );
        assert_eq!(
            error_of(&dir.join("none"), "signal: 9"),
            "process signal: 9"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
