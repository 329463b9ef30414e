//! MMLU, as lm-evaluation-harness `mmlu_<subject>` (lm_eval/tasks/mmlu/default/_default_template_yaml
//! and the per-subject YAMLs) and the `mmlu` group (size-weighted mean over stem, humanities,
//! social_sciences and other, each size-weighted over its subjects).
//!
//! Context = description `"The following are multiple choice questions (with answers) about
//! {subject with spaces}.\n\n"`, then the first `k` dev questions (`fewshot_config.sampler: first_n`),
//! each `doc_to_text + " " + letter + "\n\n"`, then the test question's `doc_to_text`:
//! `"{question.strip()}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"`. Choices `" A"`…`" D"`;
//! `acc` = argmax is the answer.

use std::path::Path;

use crate::eval::data::mmlu::{self, Question};
use crate::eval::doc::{Doc, Scoring};
use crate::eval::error::{EvalError, Result};

const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// `doc_to_text` of one question.
pub fn doc_to_text(q: &Question) -> String {
    let [a, b, c, d] = &q.choices;
    format!(
        "{}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:",
        q.question.trim()
    )
}

/// The task description, from the subject's name.
pub fn description(subject: &str) -> String {
    format!(
        "The following are multiple choice questions (with answers) about {}.\n\n",
        subject.replace('_', " ")
    )
}

/// Description and the `k` labelled dev examples that precede every test question.
pub fn fewshot_prefix(subject: &str, dev: &[Question], k: usize) -> String {
    let mut out = description(subject);
    for q in dev.iter().take(k) {
        out.push_str(&doc_to_text(q));
        out.push(' ');
        out.push_str(LETTERS.get(q.answer).copied().unwrap_or("A"));
        out.push_str("\n\n");
    }
    out
}

/// Every test question of `subject` as a document, with `k` few-shot examples.
pub fn docs(data_dir: &Path, subject: &str, k: usize, task: &str) -> Result<Vec<Doc>> {
    let dev = if k > 0 {
        mmlu::load(data_dir, subject, "dev", task)?
    } else {
        Vec::new()
    };
    if dev.len() < k {
        return Err(EvalError::InvalidOption {
            task: task.to_string(),
            message: format!(
                "num_fewshot = {k} but the dev split has {} questions",
                dev.len()
            ),
            help: "MMLU's dev split has 5 questions per subject; use num_fewshot between 0 and 5"
                .into(),
        });
    }
    let prefix = fewshot_prefix(subject, &dev, k);
    let test = mmlu::load(data_dir, subject, "test", task)?;
    Ok(test
        .into_iter()
        .enumerate()
        .map(|(id, q)| Doc {
            id,
            context: format!("{prefix}{}", doc_to_text(&q)),
            continuations: LETTERS.iter().map(|l| format!(" {l}")).collect(),
            scoring: Scoring::MultipleChoice { gold: q.answer },
        })
        .collect())
}
