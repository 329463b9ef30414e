//! MMLU data: `mmlu/data/{dev,test}/<subject>_{dev,test}.csv` (hendrycks/test), no header row;
//! columns question, A, B, C, D, answer letter.

use std::path::{Path, PathBuf};

use super::{csv, malformed, read_text};
use crate::eval::error::Result;

/// One question as the Hugging Face `cais/mmlu` dataset holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The question text (as in the file; the prompt strips it).
    pub question: String,
    /// The four choices.
    pub choices: [String; 4],
    /// Index of the correct choice.
    pub answer: usize,
}

/// Where a subject's split lives under the data directory.
pub fn path(data_dir: &Path, subject: &str, split: &str) -> PathBuf {
    data_dir
        .join("mmlu/data")
        .join(split)
        .join(format!("{subject}_{split}.csv"))
}

/// Reads every question of one subject's split (`dev` or `test`).
pub fn load(data_dir: &Path, subject: &str, split: &str, task: &str) -> Result<Vec<Question>> {
    let path = path(data_dir, subject, split);
    let text = read_text(&path, task)?;
    let mut out = Vec::new();
    for rec in csv::parse(&path, &text)? {
        let [question, a, b, c, d, answer]: [String; 6] =
            rec.fields.try_into().map_err(|f: Vec<String>| {
                malformed(&path, rec.line, format!("{} fields, expected 6", f.len()))
            })?;
        let answer = match answer.trim() {
            "A" => 0,
            "B" => 1,
            "C" => 2,
            "D" => 3,
            other => {
                return Err(malformed(
                    &path,
                    rec.line,
                    format!("answer {other:?} is not A, B, C or D"),
                ));
            }
        };
        out.push(Question {
            question,
            choices: [a, b, c, d],
            answer,
        });
    }
    Ok(out)
}

/// The 57 subjects and the category lm-evaluation-harness groups each under
/// (lm_eval/tasks/mmlu/_generate_configs.py `SUBJECTS`).
pub const SUBJECTS: [(&str, &str); 57] = [
    ("abstract_algebra", "stem"),
    ("anatomy", "stem"),
    ("astronomy", "stem"),
    ("business_ethics", "other"),
    ("clinical_knowledge", "other"),
    ("college_biology", "stem"),
    ("college_chemistry", "stem"),
    ("college_computer_science", "stem"),
    ("college_mathematics", "stem"),
    ("college_medicine", "other"),
    ("college_physics", "stem"),
    ("computer_security", "stem"),
    ("conceptual_physics", "stem"),
    ("econometrics", "social_sciences"),
    ("electrical_engineering", "stem"),
    ("elementary_mathematics", "stem"),
    ("formal_logic", "humanities"),
    ("global_facts", "other"),
    ("high_school_biology", "stem"),
    ("high_school_chemistry", "stem"),
    ("high_school_computer_science", "stem"),
    ("high_school_european_history", "humanities"),
    ("high_school_geography", "social_sciences"),
    ("high_school_government_and_politics", "social_sciences"),
    ("high_school_macroeconomics", "social_sciences"),
    ("high_school_mathematics", "stem"),
    ("high_school_microeconomics", "social_sciences"),
    ("high_school_physics", "stem"),
    ("high_school_psychology", "social_sciences"),
    ("high_school_statistics", "stem"),
    ("high_school_us_history", "humanities"),
    ("high_school_world_history", "humanities"),
    ("human_aging", "other"),
    ("human_sexuality", "social_sciences"),
    ("international_law", "humanities"),
    ("jurisprudence", "humanities"),
    ("logical_fallacies", "humanities"),
    ("machine_learning", "stem"),
    ("management", "other"),
    ("marketing", "other"),
    ("medical_genetics", "other"),
    ("miscellaneous", "other"),
    ("moral_disputes", "humanities"),
    ("moral_scenarios", "humanities"),
    ("nutrition", "other"),
    ("philosophy", "humanities"),
    ("prehistory", "humanities"),
    ("professional_accounting", "other"),
    ("professional_law", "humanities"),
    ("professional_medicine", "other"),
    ("professional_psychology", "social_sciences"),
    ("public_relations", "social_sciences"),
    ("security_studies", "social_sciences"),
    ("sociology", "social_sciences"),
    ("us_foreign_policy", "social_sciences"),
    ("virology", "other"),
    ("world_religions", "humanities"),
];

/// The category of a subject, if it is one of the 57.
pub fn category(subject: &str) -> Option<&'static str> {
    SUBJECTS
        .iter()
        .find(|(s, _)| *s == subject)
        .map(|(_, c)| *c)
}
