//! Reading finished (or still running) run directories: loss curves from `metrics.jsonl`,
//! swept values from `summary.json` and scores from `eval.json`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::SweepError;
use crate::eval::results::{EVAL_JSON, EvalReport};

/// Keys of `summary.json` that may hold the point's swept values (`{"lora.r": 16, …}`).
const SWEEP_KEYS: &[&str] = &["sweep", "swept", "point"];

/// (step or swept value, value) points of one line.
pub type Curve = Vec<(f64, f64)>;

/// One run as the figures need it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSeries {
    /// Short name (`r16-a32`): `summary.json`'s `run`/`name`, else the directory's name.
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// (step, training loss).
    pub train: Vec<(f64, f64)>,
    /// (step, validation loss).
    pub val: Vec<(f64, f64)>,
    /// Swept keys and their numeric values, in key order.
    pub params: Vec<(String, f64)>,
    /// Final scores: `eval.json` tasks (`mmlu acc`) and `summary.json` losses (`final_loss`).
    pub metrics: Vec<(String, f64)>,
}

/// Training and validation curves of a `metrics.jsonl`.
///
/// A last line without its newline is what a crash mid-write leaves: it is skipped if it does not
/// parse. Any other malformed line is an error, since it means the file is not ours.
pub fn read_metrics(path: &Path) -> Result<(Curve, Curve), SweepError> {
    let text = std::fs::read_to_string(path).map_err(|e| SweepError::io(path, e))?;
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) if i + 1 == lines.len() && !complete => break,
            Err(e) => {
                return Err(SweepError::Malformed {
                    path: path.to_path_buf(),
                    message: format!("line {}: {e}", i + 1),
                });
            }
        };
        let Some(step) = value.get("step").and_then(Value::as_f64) else {
            continue;
        };
        if let Some(loss) = value.get("loss").and_then(Value::as_f64) {
            train.push((step, loss));
        }
        if let Some(loss) = value.get("val_loss").and_then(Value::as_f64) {
            val.push((step, loss));
        }
    }
    Ok((train, val))
}

/// Reads one run directory; missing files leave their parts empty.
pub fn read_run(dir: &Path) -> Result<RunSeries, SweepError> {
    let mut run = RunSeries {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string()),
        dir: dir.to_path_buf(),
        ..RunSeries::default()
    };
    let metrics = dir.join("metrics.jsonl");
    if metrics.is_file() {
        (run.train, run.val) = read_metrics(&metrics)?;
    }
    let summary_path = dir.join("summary.json");
    if summary_path.is_file() {
        let text =
            std::fs::read_to_string(&summary_path).map_err(|e| SweepError::io(&summary_path, e))?;
        let summary: Value = serde_json::from_str(&text).map_err(|e| SweepError::Malformed {
            path: summary_path.clone(),
            message: e.to_string(),
        })?;
        apply_summary(&mut run, &summary);
    }
    if dir.join(EVAL_JSON).is_file() {
        let report = EvalReport::read(dir).map_err(|e| SweepError::Malformed {
            path: dir.join(EVAL_JSON),
            message: e.to_string(),
        })?;
        let members: Vec<&String> = report.scores.iter().flat_map(|s| &s.members).collect();
        for score in report.scores.iter().filter(|s| !members.contains(&&s.name)) {
            run.metrics
                .push((format!("{} {}", score.name, score.metric), score.value));
        }
    }
    Ok(run)
}

fn apply_summary(run: &mut RunSeries, summary: &Value) {
    if let Some(name) = ["run", "name"]
        .iter()
        .find_map(|k| summary.get(*k).and_then(Value::as_str))
    {
        run.name = name.to_string();
    }
    if let Some(Value::Object(point)) = SWEEP_KEYS.iter().find_map(|k| summary.get(*k)) {
        run.params = point
            .iter()
            .filter_map(|(k, v)| number(v).map(|x| (k.clone(), x)))
            .collect();
    }
    if let Value::Object(map) = summary {
        for (key, value) in map {
            if key.contains("loss")
                && let Some(x) = value.as_f64()
            {
                run.metrics.push((key.clone(), x));
            }
        }
    }
    // `lpipe run` keeps the training numbers under `train` (`train.last_val_loss`).
    if let Some(Value::Object(train)) = summary.get("train") {
        for (key, value) in train {
            if key.contains("loss")
                && let Some(x) = value.as_f64()
            {
                run.metrics.push((format!("train.{key}"), x));
            }
        }
    }
}

/// A swept value as a number: JSON numbers, and strings such as `"1e-4"` (values as written).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lpipe-runs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn partial_last_line_is_skipped_but_a_bad_middle_line_is_an_error() {
        let dir = tmp("partial");
        let path = dir.join("metrics.jsonl");
        std::fs::write(
            &path,
            "{\"step\":1,\"loss\":2.5}\n{\"step\":2,\"loss\":2.0,\"val_loss\":2.2}\n{\"step\":3,\"lo",
        )
        .unwrap();
        let (train, val) = read_metrics(&path).unwrap();
        assert_eq!(train, vec![(1.0, 2.5), (2.0, 2.0)]);
        assert_eq!(val, vec![(2.0, 2.2)]);

        std::fs::write(&path, "{\"step\":1,\"loss\":2.5}\nnot json\n{\"step\":3}\n").unwrap();
        let err = read_metrics(&path).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn summary_gives_name_swept_values_and_losses() {
        let dir = tmp("summary");
        std::fs::write(
            dir.join("summary.json"),
            r#"{"run":"r16-a32","sweep":{"lora.r":16,"lora.alpha":"32","optim":"adamw"},
               "final_loss":1.25,"wall_s":30.0}"#,
        )
        .unwrap();
        let run = read_run(&dir).unwrap();
        assert_eq!(run.name, "r16-a32");
        // serde_json objects iterate in key order; `optim` is not a number and is left out.
        assert_eq!(
            run.params,
            vec![
                ("lora.alpha".to_string(), 32.0),
                ("lora.r".to_string(), 16.0)
            ]
        );
        assert_eq!(run.metrics, vec![("final_loss".to_string(), 1.25)]);

        std::fs::write(
            dir.join("summary.json"),
            r#"{"run":"r8","point":{"lora.r":"8"},"train":{"steps":3,"last_loss":2.5,"best_val_loss":null}}"#,
        )
        .unwrap();
        let run = read_run(&dir).unwrap();
        assert_eq!(run.params, vec![("lora.r".to_string(), 8.0)]);
        assert_eq!(run.metrics, vec![("train.last_loss".to_string(), 2.5)]);
        assert!(run.train.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
