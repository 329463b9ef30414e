//! Executor: walks each run's stage graph ([`crate::stages`]) in order, in this process or in
//! one process per sweep point (`--jobs`).

pub mod jobs;
pub mod run;

pub use crate::stages::ExecError;
pub use crate::stages::rundir::RunOutcome;
pub use run::RunOptions;

use std::sync::atomic::AtomicBool;

use crate::ir::Pipeline;

/// Runs the selected runs of `pipeline`; one failing run does not stop the others, and the
/// failures are listed at the end.
pub fn run_pipeline(
    pipeline: &Pipeline,
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<Vec<RunOutcome>, ExecError> {
    let indices: Vec<usize> = match opts.point {
        Some(p) if p >= pipeline.runs.len() => {
            return Err(ExecError::NoSuchPoint {
                point: p,
                runs: pipeline.runs.len(),
            });
        }
        Some(p) => vec![p],
        None => (0..pipeline.runs.len()).collect(),
    };
    if opts.jobs > 1 && indices.len() > 1 {
        jobs::run_parallel(pipeline, &indices, opts, stop)
    } else {
        run::run_points(pipeline, &indices, opts, stop)
    }
}
