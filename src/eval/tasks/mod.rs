//! The tasks, one file per lm-evaluation-harness definition, and the [`Task`] that names one of them.

pub mod arithmetic;
pub mod blimp;
pub mod mmlu;
pub mod truthfulqa_mc1;
pub mod truthfulqa_mc2;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::doc::Doc;
use super::error::Result;

/// Which definition a task follows, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TaskKind {
    /// TruthfulQA MC1.
    TruthfulqaMc1,
    /// TruthfulQA MC2.
    TruthfulqaMc2,
    /// One GPT-3 arithmetic file.
    Arithmetic {
        /// The file under `gpt3_arithmetic/`.
        file: String,
    },
    /// One MMLU subject.
    Mmlu {
        /// The subject (`global_facts`).
        subject: String,
    },
    /// One BLiMP paradigm.
    Blimp {
        /// The paradigm (`adjunct_island`).
        paradigm: String,
    },
}

/// One task to run: its lm-evaluation-harness name, definition and few-shot count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The lm-evaluation-harness task name (`mmlu_global_facts`).
    pub name: String,
    /// The definition.
    pub kind: TaskKind,
    /// Few-shot examples in each context.
    pub num_fewshot: usize,
}

impl Task {
    /// The files under `data_dir` the task reads (what a preflight checks before a run).
    pub fn files(&self, data_dir: &Path) -> Vec<PathBuf> {
        use super::data::{arithmetic, blimp, mmlu, truthfulqa};
        match &self.kind {
            TaskKind::TruthfulqaMc1 | TaskKind::TruthfulqaMc2 => vec![truthfulqa::path(data_dir)],
            TaskKind::Arithmetic { file } => vec![arithmetic::path(data_dir, file)],
            TaskKind::Mmlu { subject } if self.num_fewshot > 0 => vec![
                mmlu::path(data_dir, subject, "dev"),
                mmlu::path(data_dir, subject, "test"),
            ],
            TaskKind::Mmlu { subject } => vec![mmlu::path(data_dir, subject, "test")],
            TaskKind::Blimp { paradigm } => vec![blimp::path(data_dir, paradigm)],
        }
    }

    /// Reads the task's data under `data_dir` and builds every document's prompt.
    pub fn docs(&self, data_dir: &Path) -> Result<Vec<Doc>> {
        match &self.kind {
            TaskKind::TruthfulqaMc1 => truthfulqa_mc1::docs(data_dir, &self.name),
            TaskKind::TruthfulqaMc2 => truthfulqa_mc2::docs(data_dir, &self.name),
            TaskKind::Arithmetic { file } => arithmetic::docs(data_dir, file, &self.name),
            TaskKind::Mmlu { subject } => {
                mmlu::docs(data_dir, subject, self.num_fewshot, &self.name)
            }
            TaskKind::Blimp { paradigm } => blimp::docs(data_dir, paradigm, &self.name),
        }
    }
}
