//! TruthfulQA multiple-choice data: `truthfulqa/data/mc_task.json` (sylinrl/TruthfulQA).
//!
//! Each record maps answer text to a 0/1 label for `mc1_targets` and `mc2_targets`. The key order in the
//! file is the choice order of the Hugging Face `truthful_qa/multiple_choice` dataset that
//! lm-evaluation-harness reads, so it is kept (a JSON object parsed into a map would lose it).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

use super::{json_array, malformed, read_text};
use crate::eval::error::Result;

/// Answer texts with their labels, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets(pub Vec<(String, bool)>);

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Targets;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping answers to 0 or 1")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Targets, A::Error> {
                let mut out = Vec::new();
                while let Some((answer, label)) = map.next_entry::<String, u8>()? {
                    if label > 1 {
                        return Err(serde::de::Error::custom(format!(
                            "label of {answer:?} is {label}, not 0 or 1"
                        )));
                    }
                    out.push((answer, label == 1));
                }
                Ok(Targets(out))
            }
        }
        d.deserialize_map(Ordered)
    }
}

/// One TruthfulQA question.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Question {
    /// The question text.
    pub question: String,
    /// MC1 choices: exactly one true answer.
    pub mc1_targets: Targets,
    /// MC2 choices: the true answers first, then the false ones.
    pub mc2_targets: Targets,
}

/// Where the file lives under the data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("truthfulqa/data/mc_task.json")
}

/// Reads and checks every question (MC1: one true answer; MC2: at least one true and one false answer).
pub fn load(data_dir: &Path, task: &str) -> Result<Vec<Question>> {
    let path = path(data_dir);
    let text = read_text(&path, task)?;
    let mut out = Vec::new();
    for el in json_array::elements(&path, &text)? {
        let q: Question = serde_json::from_str(el.text)
            .map_err(|e| malformed(&path, el.line + e.line().saturating_sub(1), e.to_string()))?;
        let mc1_true = q.mc1_targets.0.iter().filter(|(_, l)| *l).count();
        if mc1_true != 1 {
            return Err(malformed(
                &path,
                el.line,
                format!("mc1_targets has {mc1_true} true answers, expected 1"),
            ));
        }
        let labels: Vec<bool> = q.mc2_targets.0.iter().map(|(_, l)| *l).collect();
        if !labels.contains(&true) || !labels.contains(&false) {
            return Err(malformed(
                &path,
                el.line,
                "mc2_targets needs at least one true and one false answer",
            ));
        }
        out.push(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_file_order_of_answers() {
        let q: Question = serde_json::from_str(
            r#"{"question":"q?","mc1_targets":{"z":1,"a":0},"mc2_targets":{"m":1,"b":1,"a":0}}"#,
        )
        .unwrap();
        assert_eq!(
            q.mc1_targets.0,
            vec![("z".into(), true), ("a".into(), false)]
        );
        assert_eq!(
            q.mc2_targets
                .0
                .iter()
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>(),
            ["m", "b", "a"]
        );
    }

    #[test]
    fn bad_records_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("lpipe-tqa-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("truthfulqa/data")).unwrap();
        let good = r#"{"question":"q","mc1_targets":{"a":1,"b":0},"mc2_targets":{"a":1,"b":0}}"#;
        let bad = r#"{"question":"q","mc1_targets":{"a":0,"b":0},"mc2_targets":{"a":1,"b":0}}"#;
        std::fs::write(path(&dir), format!("[\n{good},\n{bad}\n]")).unwrap();
        let err = load(&dir, "truthfulqa_mc1").unwrap_err();
        assert!(err.to_string().contains("mc_task.json:3"), "{err}");
        std::fs::write(path(&dir), format!("[\n{good},\n{{\"question\": 3}}\n]")).unwrap();
        let err = load(&dir, "truthfulqa_mc1").unwrap_err();
        assert!(err.to_string().contains("mc_task.json:3"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = load(&dir, "truthfulqa_mc1").unwrap_err();
        assert!(matches!(err, crate::eval::EvalError::DataMissing { .. }));
    }
}
