//! Executor: walks a checked pipeline's stages, caches artifacts by content hash, writes run directories.

pub mod atomic;
pub mod data_stage;
pub mod error;
pub mod eval_stage;
pub mod jobs;
pub mod model_stage;
pub mod report_stage;
pub mod run;
pub mod rundir;
pub mod scorer;
pub mod sysmem;
pub mod train_stage;

pub use error::ExecError;
pub use run::{RunOptions, RunOutcome, run_pipeline};
