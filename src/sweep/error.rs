//! Sweep, plot and Slurm diagnostics: codes `lpipe::E780`–`lpipe::E789`.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Everything that can go wrong reading runs, drawing figures, or talking to Slurm.
#[derive(Debug, Error, Diagnostic)]
pub enum SweepError {
    /// A run or sweep file could not be read or written.
    #[error("cannot access `{}`: {source}", path.display())]
    #[diagnostic(
        code(lpipe::E780),
        help("check that the path exists and is readable (writable for outputs)")
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A run file exists but is not what `lpipe run` writes.
    #[error("malformed `{}`: {message}", path.display())]
    #[diagnostic(
        code(lpipe::E781),
        help("the file should be written by `lpipe run`; delete it to let the run write it again")
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// No TrueType font was found for the figures' text.
    #[error("no font found for figure text (looked for {looked})")]
    #[diagnostic(
        code(lpipe::E782),
        help(
            "install one (`apt-get install fonts-dejavu-core`) or set LPIPE_FONT to a .ttf/.otf file"
        )
    )]
    NoFont {
        /// The paths that were tried.
        looked: String,
    },

    /// plotters failed while drawing a figure.
    #[error("cannot draw `{}`: {message}", path.display())]
    #[diagnostic(
        code(lpipe::E783),
        help("check that the output directory is writable; report the message if it persists")
    )]
    Draw {
        /// The figure being written.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },

    /// There is nothing to plot or submit.
    #[error("nothing to {what}: {message}")]
    #[diagnostic(
        code(lpipe::E784),
        help("pass run directories written by `lpipe run`, or a sweep with at least one point")
    )]
    Empty {
        /// The action (`plot`, `submit`).
        what: &'static str,
        /// Why there is nothing.
        message: String,
    },

    /// A Slurm command is missing or failed.
    #[error("`{command}` failed: {message}")]
    #[diagnostic(
        code(lpipe::E785),
        help(
            "check that Slurm's client commands are on PATH and the controller is up (`sinfo`); \
             scripts/slurm-up.sh starts a single-node cluster; `--dry-run` writes the script only"
        )
    )]
    Slurm {
        /// The command line that failed.
        command: String,
        /// Its error output or the reason.
        message: String,
    },

    /// A submit option has a value Slurm would reject.
    #[error("invalid `--{option}` value `{value}`: {message}")]
    #[diagnostic(
        code(lpipe::E786),
        help(
            "partitions are names (`gpu`), times are Slurm durations (`90`, `4:00:00`, `1-12:00:00`)"
        )
    )]
    BadOption {
        /// The option name.
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it is rejected.
        message: String,
    },
}

impl SweepError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SweepError {
        SweepError::Io {
            path: path.into(),
            source,
        }
    }
}
