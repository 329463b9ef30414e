//! A run's directory: `runs/<pipeline>/<run>/` with the resolved IR, metrics, checkpoints,
//! the final adapter, evaluation results and a summary.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{ExecError, log};
use crate::ir::{Pipeline, Run};

/// Paths of one run's outputs.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory `<runs_root>/<pipeline>/<run>`, created if missing.
    pub fn create(runs_root: &Path, pipeline: &str, run: &str) -> io::Result<RunDir> {
        let root = runs_root.join(sanitize(pipeline)).join(sanitize(run));
        fs::create_dir_all(&root)?;
        Ok(RunDir { root })
    }

    /// Opens an existing run directory.
    pub fn open(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The resolved pipeline in RON.
    pub fn ir(&self) -> PathBuf {
        self.root.join("pipeline.ron")
    }

    /// One JSON object per line: training and validation metrics.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// Periodic training checkpoints.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// The final adapter in PEFT's format.
    pub fn adapter(&self) -> PathBuf {
        self.root.join("adapter")
    }

    /// Evaluation results of a named eval stage (`eval.json` for the default one).
    pub fn eval(&self, stage: &str) -> PathBuf {
        self.root.join(format!("{}.json", sanitize(stage)))
    }

    /// Every scored evaluation item, as lm-evaluation-harness' `--log_samples`.
    pub fn samples(&self, stage: &str) -> PathBuf {
        self.root.join(format!("{}.samples.jsonl", sanitize(stage)))
    }

    /// The run's summary: swept values, parameters, memory, wall time, losses, metrics.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    /// Appends one JSON line to `metrics.jsonl` (a partial last line from a crash is tolerated by readers).
    pub fn append_metric(&self, value: &serde_json::Value) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.metrics())?;
        let mut line = serde_json::to_string(value).map_err(io::Error::other)?;
        line.push('\n');
        file.write_all(line.as_bytes())
    }

    /// Takes the run directory for this process until the returned lock drops, so a second
    /// `lpipe run` of the same run (another shell, a resubmitted Slurm task) is refused (E805)
    /// instead of writing beside this one. The OS releases the lock when the process dies, so a
    /// killed run never leaves it stuck.
    pub fn lock(&self) -> Result<RunLock, ExecError> {
        let path = self.root.join(".lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| ExecError::write(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "a process that has not said who it is".into());
                return Err(ExecError::Busy {
                    dir: self.root.clone(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(ExecError::write(&path, e)),
        }
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let who = format!(
            "pid {} on {} since {since}",
            std::process::id(),
            crate::io::hostname()
        );
        // Best effort: the lock holds without the note, which only names the holder.
        let _ = file
            .set_len(0)
            .and_then(|()| file.write_all(who.as_bytes()));
        Ok(RunLock { _file: file })
    }

    /// Whether this run finished (its summary exists).
    pub fn is_finished(&self) -> bool {
        self.summary().is_file()
    }
}

/// The lock of a run directory held by this process ([`RunDir::lock`]).
#[derive(Debug)]
pub struct RunLock {
    _file: fs::File,
}

/// What one finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Skipped because it had finished before.
    pub skipped: bool,
    /// Stopped early by Ctrl-C or `max_time` (a checkpoint was written; re-run to resume).
    pub interrupted: bool,
    /// It was `max_time`.
    pub timed_out: bool,
}

impl RunOutcome {
    /// The outcome of `run` in `dir`; `stopped` is `Some(timed_out)` for a run stopped early.
    pub fn new(run: &Run, dir: &RunDir, skipped: bool, stopped: Option<bool>) -> Self {
        RunOutcome {
            name: run.name.clone(),
            dir: dir.root().to_path_buf(),
            skipped,
            interrupted: stopped.is_some(),
            timed_out: stopped == Some(true),
        }
    }
}

impl RunDir {
    /// `run`'s directory in the pipeline's sweep directory, created if missing.
    pub fn for_run(pipeline: &Pipeline, run: &Run) -> Result<RunDir, ExecError> {
        RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
            .map_err(|e| ExecError::write(&pipeline.runs_dir, e))
    }

    /// The skipped outcome when the run finished before (its `summary.json` exists), unless `force`.
    pub fn finished_earlier(&self, run: &Run, force: bool) -> Option<RunOutcome> {
        if !self.is_finished() || force {
            return None;
        }
        let summary = self.summary();
        log(format!(
            "run {}: finished earlier ({}), skipped",
            run.name,
            summary.display()
        ));
        Some(RunOutcome::new(run, self, true, None))
    }

    /// Logs the start and writes the resolved run (`pipeline.ron`).
    pub fn start(&self, run: &Run) -> Result<(), ExecError> {
        log(format!(
            "run {}: starting in {}",
            run.name,
            self.root().display()
        ));
        let ron = ron::ser::to_string_pretty(run, ron::ser::PrettyConfig::default())
            .map_err(|e| ExecError::write(self.ir(), std::io::Error::other(e)))?;
        crate::io::write_atomic(&self.ir(), ron.as_bytes())
            .map_err(|e| ExecError::write(self.ir(), e))
    }
}

/// Prints the failed runs with their errors; an error when any failed.
pub fn finish(
    outcomes: Vec<RunOutcome>,
    failed: Vec<(String, String)>,
    total: usize,
) -> Result<Vec<RunOutcome>, ExecError> {
    if failed.is_empty() {
        return Ok(outcomes);
    }
    let finished = outcomes.len();
    eprintln!(
        "\nlpipe: {} of {total} runs failed ({finished} finished):",
        failed.len()
    );
    for (name, message) in &failed {
        eprintln!("  {name}: {message}");
    }
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    Err(ExecError::RunsFailed {
        failed: failed.len(),
        total,
        names: names.join(", "),
    })
}

/// Keeps names usable as single path components.
pub use crate::io::path_component as sanitize;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_runs_root() {
        assert_eq!(sanitize("../../etc"), "_.._etc");
        assert_eq!(sanitize("r16-a32"), "r16-a32");
        assert_eq!(sanitize(""), "_");
    }

    #[test]
    fn metrics_append_one_line_each() {
        let tmp = std::env::temp_dir().join(format!("lpipe-rundir-{}", std::process::id()));
        let run = RunDir::create(&tmp, "quick start", "r8").unwrap();
        run.append_metric(&serde_json::json!({"step": 1})).unwrap();
        run.append_metric(&serde_json::json!({"step": 2})).unwrap();
        let text = fs::read_to_string(run.metrics()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(run.root().ends_with("quick_start/r8"));
        fs::remove_dir_all(&tmp).unwrap();
    }
}
