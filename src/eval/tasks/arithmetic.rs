//! GPT-3 arithmetic, as lm-evaluation-harness `arithmetic_{1dc,2da,2dm,2ds,3da,3ds,4da,4ds,5da,5ds}`
//! (lm_eval/tasks/arithmetic/arithmetic_*.yaml, output_type `loglikelihood`, metric `acc`).
//!
//! The harness reads the Hugging Face `EleutherAI/arithmetic` dataset, whose loader rewrites GPT-3's
//! context `"\n\nQ: What is 17 minus 14?\n\nA:"` as `context.strip().replace("\n\n", "\n")
//! .replace("Q:", "Question:").replace("A:", "Answer:")` = `"Question: What is 17 minus 14?\nAnswer:"`.
//! The continuation is the completion (`" 3"`); `acc` = it is the greedy continuation, token by token.

use std::path::Path;

use crate::eval::data::arithmetic;
use crate::eval::doc::{Doc, Scoring};
use crate::eval::error::Result;

/// The ten tasks and their GPT-3 files.
pub const TASKS: [(&str, &str); 10] = [
    ("arithmetic_1dc", "single_digit_three_ops.jsonl"),
    ("arithmetic_2da", "two_digit_addition.jsonl"),
    ("arithmetic_2dm", "two_digit_multiplication.jsonl"),
    ("arithmetic_2ds", "two_digit_subtraction.jsonl"),
    ("arithmetic_3da", "three_digit_addition.jsonl"),
    ("arithmetic_3ds", "three_digit_subtraction.jsonl"),
    ("arithmetic_4da", "four_digit_addition.jsonl"),
    ("arithmetic_4ds", "four_digit_subtraction.jsonl"),
    ("arithmetic_5da", "five_digit_addition.jsonl"),
    ("arithmetic_5ds", "five_digit_subtraction.jsonl"),
];

/// The `EleutherAI/arithmetic` loader's rewrite of a GPT-3 context. Python's `strip()` removes
/// Unicode whitespace, as `str::trim` does (the files are ASCII).
pub fn context(gpt3_context: &str) -> String {
    gpt3_context
        .trim()
        .replace("\n\n", "\n")
        .replace("Q:", "Question:")
        .replace("A:", "Answer:")
}

/// Every problem of `file` as a document.
pub fn docs(data_dir: &Path, file: &str, task: &str) -> Result<Vec<Doc>> {
    let problems = arithmetic::load(data_dir, file, task)?;
    Ok(problems
        .into_iter()
        .enumerate()
        .map(|(id, p)| Doc {
            id,
            context: context(&p.context),
            continuations: vec![p.completion],
            scoring: Scoring::Greedy,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn context_is_rewritten_as_the_hf_loader_does() {
        assert_eq!(
            super::context("\n\nQ: What is 17 minus 14?\n\nA:"),
            "Question: What is 17 minus 14?\nAnswer:"
        );
    }
}
