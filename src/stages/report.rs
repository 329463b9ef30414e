//! The `report` stage: the side-by-side table of every finished point in the sweep directory, in
//! each requested format, and with `plot = true` the figures of `lpipe report --plot`. It runs
//! after each point, so the report is current while a sweep runs and holds every point at its end.

use std::path::{Path, PathBuf};

use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::eval::table::Format;
use crate::io::write_atomic;
use crate::ir::{Pipeline, Report, ReportFormat, RunConfig};
use crate::sweep::report::{build_table, collect_runs};

/// Writes the sweep's report.
pub struct ReportStage<'a> {
    /// The run's settings (its `report` block).
    pub cfg: &'a RunConfig,
    /// The pipeline.
    pub pipeline: &'a Pipeline,
}

impl Stage for ReportStage<'_> {
    fn settings(&self) -> String {
        serde_json::to_string(&self.cfg.report).unwrap_or_default()
    }

    fn run(&self, cx: &mut Context, _: Inputs) -> Result<Artifact, ExecError> {
        let Some(report) = &self.cfg.report else {
            return Err(super::missing("a report block"));
        };
        if cx.single_point {
            // Other processes are running the other points; `lpipe report` collects them all.
            log("report: not written for a single point (`lpipe report` writes it)");
            return Ok(Artifact::Done);
        }
        // The summary is written after the stages: count this run as finished.
        super::summary::write(cx)?;
        write_logged(report, &cx.sweep_dir())?;
        Ok(Artifact::Done)
    }
}

/// [`write`], logging each file.
pub fn write_logged(report: &Report, sweep_dir: &Path) -> Result<(), ExecError> {
    for path in write(report, sweep_dir)? {
        log(format!("report: {}", path.display()));
    }
    Ok(())
}

/// File name of each format in the sweep directory.
fn file_name(format: ReportFormat) -> &'static str {
    match format {
        ReportFormat::Table => "report.txt",
        ReportFormat::Markdown => "report.md",
        ReportFormat::Csv => "report.csv",
    }
}

/// Writes the report files into `sweep_dir`; returns the paths written.
pub fn write(report: &Report, sweep_dir: &Path) -> Result<Vec<PathBuf>, ExecError> {
    let runs = collect_runs(&[sweep_dir.to_path_buf()])?;
    let mut written = Vec::new();
    for &format in &report.formats {
        let (render_as, csv) = match format {
            ReportFormat::Table => (Format::Table, false),
            ReportFormat::Markdown => (Format::Markdown, false),
            ReportFormat::Csv => (Format::Csv, true),
        };
        let text = build_table(&runs, false, true, csv).render(render_as);
        let path = sweep_dir.join(file_name(format));
        write_atomic(&path, text.as_bytes()).map_err(|e| ExecError::write(path.clone(), e))?;
        written.push(path);
    }
    if report.plot {
        let figures = sweep_dir.join("figures");
        written.extend(crate::sweep::plot_runs(
            &[sweep_dir.to_path_buf()],
            &figures,
        )?);
    }
    Ok(written)
}
