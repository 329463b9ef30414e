//! Failures of `lpipe run`: each stage's own diagnostic, or a problem of the run itself (E8xx).

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Why a run stopped.
#[derive(Debug, Error, Diagnostic)]
pub enum ExecError {
    /// Loading or running the model failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] crate::model::error::ModelError),

    /// The tokenizer could not be loaded.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tokenizer(#[from] crate::tokenizer::error::TokenizerError),

    /// Preparing the dataset failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] crate::data::error::DataError),

    /// Quantizing the base failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Quant(#[from] crate::quant::error::QuantError),

    /// Training failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Train(#[from] crate::train::error::TrainError),

    /// Evaluation failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Eval(#[from] crate::eval::EvalError),

    /// Drawing the report's figures failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sweep(#[from] crate::sweep::SweepError),

    /// A run-directory file could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    #[diagnostic(
        code(lpipe::E800),
        help("check that the runs directory is writable and the disk is not full")
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The pipeline asks for something this stage cannot do.
    #[error("{what}")]
    #[diagnostic(code(lpipe::E801), help("{help}"))]
    Unsupported {
        /// What was asked.
        what: String,
        /// What to do instead.
        help: String,
    },

    /// `--point` named a sweep point that does not exist.
    #[error("the pipeline has {runs} run(s); there is no point {point}")]
    #[diagnostic(
        code(lpipe::E802),
        help("`lpipe plan FILE` lists the sweep's points, numbered from 0")
    )]
    NoSuchPoint {
        /// The requested index.
        point: usize,
        /// How many runs there are.
        runs: usize,
    },

    /// Some runs of a sweep failed; the others finished.
    #[error("{failed} of {total} runs failed: {names}")]
    #[diagnostic(
        code(lpipe::E803),
        help("each failed run's error was printed above; re-run to retry only those")
    )]
    RunsFailed {
        /// Failed runs.
        failed: usize,
        /// All runs.
        total: usize,
        /// Their names.
        names: String,
    },

    /// Another process is running this run (it holds the run directory's lock).
    #[error("run directory `{}` is in use by another lpipe run ({holder})", dir.display())]
    #[diagnostic(
        code(lpipe::E805),
        help(
            "wait for it to finish (`lpipe status` shows it) or stop it; two processes writing one run directory would mix their checkpoints and metrics"
        )
    )]
    Busy {
        /// The run directory.
        dir: PathBuf,
        /// Who holds it, as that process wrote it (`pid 4242 on node7 since 1796613919`).
        holder: String,
    },

    /// `lpipe run --jobs` could not start a run's process.
    #[error("cannot start a process for run {run}: {message}")]
    #[diagnostic(
        code(lpipe::E804),
        help(
            "check that the lpipe binary is still in place and the system allows more processes; `--jobs 1` runs in this process"
        )
    )]
    Spawn {
        /// The run.
        run: String,
        /// The operating-system error.
        message: String,
    },
}

impl ExecError {
    /// A write failure at `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ExecError::Write {
            path: path.into(),
            source,
        }
    }
}
