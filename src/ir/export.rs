//! Adapter export and result reports.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `export` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// Output directory (resolved against the pipeline's directory, or `out/<pipeline name>` when
    /// the file names none; per run under a sweep).
    pub path: PathBuf,
    /// Also write the base weights with the adapter merged in (HF safetensors).
    pub merge: bool,
}

/// The `report` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Output formats.
    pub formats: Vec<ReportFormat>,
    /// Also draw loss curves and metric plots.
    pub plot: bool,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// A terminal table.
    Table,
    /// Markdown.
    Markdown,
    /// CSV.
    Csv,
}
