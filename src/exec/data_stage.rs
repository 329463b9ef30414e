//! The dataset stage: the pipeline's `dataset` block → tokenized, split training examples.

use std::path::Path;

use super::error::ExecError;
use crate::data::{DatasetConfig, PreparedDataset, prepare};
use crate::ir;
use crate::tokenizer::Tokenizer;

/// The data module's settings, with a relative data file resolved against the pipeline's directory.
pub fn config(
    dataset: &ir::Dataset,
    base_dir: &Path,
    tokenizer: &dyn Tokenizer,
) -> Result<DatasetConfig, ExecError> {
    let mut dataset = dataset.clone();
    if let ir::DataSource::Json { path, .. } = &mut dataset.source
        && path.is_relative()
        && !path.exists()
    {
        *path = base_dir.join(&*path);
    }
    // BOS exactly when the tokenizer prepends one (Llama 2 yes, SmolLM2 no).
    Ok(DatasetConfig::from_ir(
        &dataset,
        tokenizer.bos_id().is_some(),
    )?)
}

/// Tokenizes (or loads from the cache) and splits the dataset.
pub fn run(
    dataset: &ir::Dataset,
    base_dir: &Path,
    tokenizer: &dyn Tokenizer,
    tokenizer_id: &str,
) -> Result<(PreparedDataset, DatasetConfig), ExecError> {
    let cfg = config(dataset, base_dir, tokenizer)?;
    let cache = crate::cache::cache_dir();
    let prepared = prepare(&cfg, tokenizer, tokenizer_id, Some(&cache))?;
    Ok((prepared, cfg))
}
