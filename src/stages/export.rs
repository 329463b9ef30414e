//! The `export` stage: the trained adapter (and with `merge`, the merged weights in `merged/`)
//! under the export path, one subdirectory per run when the pipeline sweeps, so that runs never
//! overwrite each other.

use std::path::PathBuf;

use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::ir::{Export, Pipeline, RunConfig};

/// Where run `run` of `pipeline` exports: the export path, plus `<run>` under a sweep.
pub fn destination(pipeline: &Pipeline, export: &Export, run: &str) -> PathBuf {
    if pipeline.runs.len() > 1 {
        export.path.join(super::rundir::sanitize(run))
    } else {
        export.path.clone()
    }
}

/// Exports the run's adapter.
pub struct ExportStage<'a> {
    /// The run's settings (its `export` block).
    pub cfg: &'a RunConfig,
    /// The pipeline (a sweep exports into one subdirectory per run).
    pub pipeline: &'a Pipeline,
}

impl Stage for ExportStage<'_> {
    fn settings(&self) -> String {
        serde_json::to_string(&self.cfg.export).unwrap_or_default()
    }

    fn run(&self, cx: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError> {
        let (Some(export), Some(trained)) = (&self.cfg.export, inputs.trained()) else {
            return Err(super::missing("a trained adapter"));
        };
        let out = destination(self.pipeline, export, &cx.run.name);
        let adapter = cx.dir.adapter();
        log(format!(
            "export: {}",
            crate::train::export::export(&adapter, None, false, &out)?
        ));
        if export.merge {
            let model = &trained.base.loaded.path;
            log(format!(
                "export: {}",
                crate::train::export::export(&adapter, Some(model), true, &out.join("merged"))?
            ));
        }
        Ok(Artifact::Done)
    }
}
