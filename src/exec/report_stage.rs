//! The `report` stage: after the runs, the side-by-side table of every finished point in the
//! sweep directory, in each requested format, and with `plot = true` the figures of
//! `lpipe report --plot`.

use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::error::ExecError;
use crate::eval::table::Format;
use crate::ir::{Report, ReportFormat};
use crate::sweep::report::{build_table, collect_runs};

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
