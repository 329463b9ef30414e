//! BLiMP, as lm-evaluation-harness `blimp_<paradigm>` (lm_eval/tasks/blimp/_template_yaml) and the
//! `blimp` group (unweighted mean of the 67 paradigms).
//!
//! Zero-shot with an empty context (`doc_to_text: ""`); the choices are `[sentence_good, sentence_bad]`
//! scored as `" " + sentence` after the model's prefix token (BOS, else EOS), and `acc` = argmax is the
//! good sentence, i.e. ll(good) ≥ ll(bad) (`np.argmax` takes the first of equal values).

use std::path::Path;

use crate::eval::data::blimp;
use crate::eval::doc::{Doc, Scoring};
use crate::eval::error::Result;

/// Every minimal pair of `paradigm` as a document.
pub fn docs(data_dir: &Path, paradigm: &str, task: &str) -> Result<Vec<Doc>> {
    let pairs = blimp::load(data_dir, paradigm, task)?;
    Ok(pairs
        .into_iter()
        .enumerate()
        .map(|(id, p)| Doc {
            id,
            context: String::new(),
            continuations: vec![
                format!(" {}", p.sentence_good),
                format!(" {}", p.sentence_bad),
            ],
            scoring: Scoring::MultipleChoice { gold: 0 },
        })
        .collect())
}
