//! What every stage runs on: the pipeline and run, the run directory, where data lives, the stop
//! flag, and what the run's summary and evaluation files collect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::rundir::RunDir;
use crate::eval::EvalOutput;
use crate::ir::{Pipeline, Run};

/// The state one run's stages share.
pub struct Context<'a> {
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// The run (sweep point) being executed.
    pub run: &'a Run,
    /// Its directory.
    pub dir: RunDir,
    /// Evaluation data when an eval stage names none.
    pub data_dir: PathBuf,
    /// Draw progress bars.
    pub progress: bool,
    /// Only this point runs in this process (`--point`): sweep-wide outputs are left to others.
    pub single_point: bool,
    /// Set by Ctrl-C: stages stop at the next safe point.
    pub stop: &'a AtomicBool,
    /// What `summary.json` will hold, filled by the stages.
    pub summary: serde_json::Map<String, serde_json::Value>,
    /// The evaluation results each directory's `eval.json` holds so far in this run.
    pub evals: BTreeMap<PathBuf, EvalOutput>,
    /// A stage stopped early; `Some(true)` when it was `max_time`.
    pub stopped: Option<bool>,
    /// When the run started.
    pub started: Instant,
}

impl<'a> Context<'a> {
    /// A context for `run` in `dir`, evaluation data in `data_dir`, with default options (no
    /// progress bars, every point in this process).
    pub fn new(
        pipeline: &'a Pipeline,
        run: &'a Run,
        dir: RunDir,
        data_dir: PathBuf,
        stop: &'a AtomicBool,
    ) -> Self {
        Context {
            pipeline,
            run,
            dir,
            data_dir,
            progress: false,
            single_point: false,
            stop,
            summary: serde_json::Map::new(),
            evals: BTreeMap::new(),
            stopped: None,
            started: Instant::now(),
        }
    }

    /// The pipeline file's directory: relative paths in the IR are taken against it.
    pub fn base_dir(&self) -> &Path {
        self.pipeline.source.parent().unwrap_or(Path::new(""))
    }

    /// The sweep directory `<runs_dir>/<pipeline>`.
    pub fn sweep_dir(&self) -> PathBuf {
        sweep_dir(self.pipeline)
    }
}

/// The sweep directory `<runs_dir>/<pipeline>`: one subdirectory per run.
pub fn sweep_dir(pipeline: &Pipeline) -> PathBuf {
    pipeline
        .runs_dir
        .join(super::rundir::sanitize(&pipeline.name))
}

/// One progress line on stderr.
pub fn log(msg: impl AsRef<str>) {
    eprintln!("lpipe: {}", msg.as_ref());
}
