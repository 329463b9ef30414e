//! TruthfulQA MC2, as lm-evaluation-harness `truthfulqa_mc2`
//! (lm_eval/tasks/truthfulqa/truthfulqa_mc2.yaml, version 2.0, and `utils.process_results_mc2`).
//!
//! Same context as [`super::truthfulqa_mc1`]; the choices are `mc2_targets` (true answers first), each
//! scored as `" " + choice`; `acc` = Σ exp(ll) over the true answers / Σ exp(ll) over all answers.

use std::path::Path;

use super::truthfulqa_mc1::context;
use crate::eval::data::truthfulqa;
use crate::eval::doc::{Doc, Scoring};
use crate::eval::error::Result;

/// Every question as a document.
pub fn docs(data_dir: &Path, task: &str) -> Result<Vec<Doc>> {
    let questions = truthfulqa::load(data_dir, task)?;
    Ok(questions
        .into_iter()
        .enumerate()
        .map(|(id, q)| Doc {
            id,
            context: context(&q.question),
            continuations: q
                .mc2_targets
                .0
                .iter()
                .map(|(a, _)| format!(" {a}"))
                .collect(),
            scoring: Scoring::Mc2 {
                labels: q.mc2_targets.0.iter().map(|(_, l)| *l).collect(),
            },
        })
        .collect())
}
