//! The `tokenize` stage: the dataset's records through its template and the model's tokenizer,
//! split into training, validation and held-out examples (cached on disk by content hash).

use std::rc::Rc;
use std::time::Instant;

use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::data::prepare::CacheUse;
use crate::data::{DatasetConfig, PreparedDataset, Template, prepare};

/// Tokenized examples and the template that made them (the `heldout` task prompts with it).
pub struct Tokenized {
    /// The examples, split.
    pub prepared: PreparedDataset,
    /// The prompt template.
    pub template: Template,
}

/// Tokenizes the dataset with the base model's tokenizer.
pub struct TokenizeStage;

impl Stage for TokenizeStage {
    fn settings(&self) -> String {
        // Everything it depends on is in its inputs: the dataset block and the model.
        String::new()
    }

    fn shared(&self) -> bool {
        true
    }

    fn run(&self, _: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError> {
        let base = inputs.base()?;
        let dataset = inputs
            .0
            .iter()
            .find_map(|a| match a {
                Artifact::Dataset(d) => Some(d.clone()),
                _ => None,
            })
            .ok_or_else(|| super::missing("a dataset"))?;
        let t = Instant::now();
        let tokenizer = &*base.tokenizer;
        // BOS exactly when the tokenizer prepends one (Llama 2 yes, SmolLM2 no).
        let cfg = DatasetConfig::from_ir(&dataset, tokenizer.bos_id().is_some())?;
        let cache = crate::cache::cache_dir();
        let prepared = prepare(&cfg, tokenizer, &base.tokenizer_id, Some(&cache))?;
        let short = prepared.key.get(..12).unwrap_or(&prepared.key);
        let how = match &prepared.cache {
            CacheUse::Hit(_) => format!("cached (key {short}), not tokenized again"),
            CacheUse::Written(_) => format!("tokenized and cached (key {short})"),
            CacheUse::Rebuilt(_, why) => {
                format!("tokenized again (key {short}; cache entry unusable: {why})")
            }
            CacheUse::Disabled => "tokenized (no cache directory)".into(),
        };
        log(format!(
            "dataset: {how}; {} train / {} validation examples; {} in {:.1}s",
            prepared.split.train.len(),
            prepared.split.validation.len(),
            prepared.stats,
            t.elapsed().as_secs_f64()
        ));
        Ok(Artifact::Tokenized(Rc::new(Tokenized {
            prepared,
            template: cfg.template,
        })))
    }
}
