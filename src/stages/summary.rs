//! A run's `summary.json`: what it swept, trained and scored, its wall time and memory. Its
//! presence marks the run finished.

use serde_json::json;

use super::{Context, ExecError};
use crate::io::write_json_atomic;

/// Writes `summary.json` from what the stages collected in `cx`.
pub fn write(cx: &Context) -> Result<(), ExecError> {
    let mut summary = serde_json::Map::new();
    summary.insert("pipeline".into(), json!(cx.pipeline.name));
    summary.insert("run".into(), json!(cx.run.name));
    let point: std::collections::BTreeMap<_, _> = cx.run.point.iter().cloned().collect();
    summary.insert("point".into(), json!(point));
    summary.extend(cx.summary.clone());
    summary.insert("wall_s".into(), json!(cx.started.elapsed().as_secs_f64()));
    // The peak is the process's: per run under `--jobs` and Slurm, cumulative when one process
    // runs several points in turn.
    summary.insert(
        "memory".into(),
        json!({
            "peak_rss_bytes": crate::io::sysmem::peak_rss_bytes(),
            "estimate_bytes": crate::plan::schedule::estimate(cx.pipeline, &cx.run.name),
        }),
    );
    let path = cx.dir.summary();
    write_json_atomic(&path, &summary).map_err(|e| ExecError::write(path, e))
}
