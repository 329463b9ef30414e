//! Sweeps at scale: the results table ([`report`]), figures comparing runs ([`plot_runs`]), Slurm
//! job arrays ([`slurm`]) and each point's state ([`status`]).
//!
//! A sweep directory is `runs/<pipeline>/`, one run directory per point (`runs/<pipeline>/r16-a32/`,
//! see [`crate::stages::rundir`]); Slurm's files go to `runs/<pipeline>/slurm/`.

pub mod error;
pub mod figures;
pub mod font;
pub mod plot;
pub mod report;
pub mod runs;
pub mod slurm;
pub mod status;

pub use error::SweepError;
pub use figures::plot_runs;
