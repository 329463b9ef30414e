//! A task document after prompt construction: one context, its continuations and how to judge them.

use serde::{Deserialize, Serialize};

/// How a document's log-likelihoods become its metric value (lm-evaluation-harness `process_results`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// `acc = argmax(lls) == gold` (first maximum wins, as `np.argmax`).
    MultipleChoice {
        /// Index of the correct continuation.
        gold: usize,
    },
    /// TruthfulQA MC2: probability mass of the true answers, normalised over all answers.
    Mc2 {
        /// One label per continuation; the true ones come first.
        labels: Vec<bool>,
    },
    /// `acc = is_greedy` of the single continuation (output_type `loglikelihood`).
    Greedy,
}

/// One scored item of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Index of the document in its split (stable across subsampling).
    pub id: usize,
    /// The prompt, with few-shot examples and description.
    pub context: String,
    /// The continuations scored after the context (with their target delimiter).
    pub continuations: Vec<String>,
    /// How the continuations' log-likelihoods are judged.
    pub scoring: Scoring,
}
