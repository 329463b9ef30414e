//! Evaluation stages and their tasks (lm-evaluation-harness definitions).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ir::dataset::ArithOp;

/// An `eval` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    /// The stage name (`eval before { … }` → `before`; `eval` alone → `eval`).
    pub name: String,
    /// The tasks, in order.
    pub tasks: Vec<Task>,
    /// Which models to evaluate: the base, the trained adapter, or both.
    pub on: Vec<EvalOn>,
    /// Score at most N items per task (seeded subsample), if set.
    pub limit: Option<u64>,
    /// Seed for subsampling and few-shot selection.
    pub seed: u64,
    /// Scoring batch size.
    pub batch_size: u32,
    /// Directory holding the benchmark files (`../shared/data` layout), if not the default.
    pub data_dir: Option<PathBuf>,
}

/// What an eval stage scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalOn {
    /// The base model without adapter.
    Base,
    /// The base model with the trained adapter.
    Adapter,
}

/// An evaluation task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// TruthfulQA multiple choice, single true answer.
    TruthfulqaMc1,
    /// TruthfulQA multiple choice, normalised probability of the true answers.
    TruthfulqaMc2,
    /// GPT-3 arithmetic (`arithmetic_2ds` = 2-digit subtraction).
    Arithmetic {
        /// Digits per operand (2–5).
        digits: u32,
        /// Addition or subtraction.
        op: ArithOp,
    },
    /// MMLU, k-shot.
    Mmlu {
        /// Subjects (empty: all 57).
        subjects: Vec<String>,
        /// Few-shot examples from the dev split.
        shots: u32,
    },
    /// BLiMP minimal pairs.
    Blimp {
        /// Paradigms (empty: all 67).
        paradigms: Vec<String>,
    },
    /// Exact match of greedy answers on the dataset's validation split.
    Heldout {
        /// Maximum generated tokens per answer.
        max_new_tokens: u32,
    },
}

impl Task {
    /// The task's name as written in `.lpipe` files.
    pub fn name(&self) -> String {
        match self {
            Task::TruthfulqaMc1 => "truthfulqa_mc1".into(),
            Task::TruthfulqaMc2 => "truthfulqa_mc2".into(),
            Task::Arithmetic { digits, op } => {
                let o = match op {
                    ArithOp::Plus => "a",
                    ArithOp::Minus => "s",
                    ArithOp::Times => "m",
                };
                format!("arithmetic_{digits}d{o}")
            }
            Task::Mmlu { .. } => "mmlu".into(),
            Task::Blimp { .. } => "blimp".into(),
            Task::Heldout { .. } => "heldout".into(),
        }
    }
}
