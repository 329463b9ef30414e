//! The `dataset` stage: the block's source with its data file found (relative to the pipeline).

use std::rc::Rc;

use super::{Artifact, Context, ExecError, Inputs, Stage};
use crate::ir::{Dataset, Pipeline};

/// Resolves the dataset block; reading and tokenizing happen in the tokenize stage, cached.
pub struct DatasetStage {
    dataset: Dataset,
}

impl DatasetStage {
    /// The stage for `dataset`, paths taken against the pipeline file's directory.
    pub fn new(dataset: &Dataset, pipeline: &Pipeline) -> Self {
        let base_dir = pipeline.source.parent().unwrap_or(std::path::Path::new(""));
        DatasetStage {
            dataset: crate::data::from_ir::resolve_paths(dataset, base_dir),
        }
    }
}

impl Stage for DatasetStage {
    fn settings(&self) -> String {
        serde_json::to_string(&self.dataset).unwrap_or_default()
    }

    fn shared(&self) -> bool {
        true
    }

    fn run(&self, _: &mut Context, _: Inputs) -> Result<Artifact, ExecError> {
        Ok(Artifact::Dataset(Rc::new(self.dataset.clone())))
    }
}
