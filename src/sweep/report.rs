//! The side-by-side results table of several runs (what `lpipe report` prints and the `report`
//! stage writes): one row per run, summary values (swept settings, parameters, wall time, losses)
//! from each run's `summary.json`, then every evaluation score from its `eval.json`.

use std::path::{Path, PathBuf};

use crate::eval::error::EvalError;
use crate::eval::results::{EVAL_JSON, EvalReport};
use crate::eval::table::Table;

/// File name of a run's training/sweep summary (written by the run stage).
pub const SUMMARY_JSON: &str = "summary.json";

/// One run's readable results.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResults {
    /// The run directory.
    pub dir: PathBuf,
    /// Its label: the directory's name inside a sweep directory (`base`, `r8-a16`), else the
    /// path as given (a `run` in `summary.json` takes precedence in the table).
    pub name: String,
    /// `summary.json`, if present.
    pub summary: Option<serde_json::Value>,
    /// `eval.json`, if present.
    pub eval: Option<EvalReport>,
}

fn is_run(dir: &Path) -> bool {
    dir.join(EVAL_JSON).is_file() || dir.join(SUMMARY_JSON).is_file()
}

/// Expands the paths into run directories and reads them.
pub fn collect_runs(paths: &[PathBuf]) -> Result<Vec<RunResults>, EvalError> {
    let mut dirs = Vec::new();
    for path in paths {
        if is_run(path) {
            dirs.push((path.clone(), path.display().to_string()));
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| EvalError::Results {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut subs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_run(p))
            .collect();
        if subs.is_empty() {
            return Err(EvalError::Results {
                path: path.clone(),
                message: format!(
                    "neither it nor its subdirectories hold {EVAL_JSON} or {SUMMARY_JSON}"
                ),
            });
        }
        // `base` first, then natural order: r4 before r16 before r128.
        subs.sort_by_key(|p| natural_key(p));
        dirs.extend(subs.into_iter().map(|d| {
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| d.display().to_string());
            (d, name)
        }));
    }
    dirs.into_iter()
        .map(|(dir, name)| read_run(&dir, name))
        .collect()
}

fn read_run(dir: &Path, name: String) -> Result<RunResults, EvalError> {
    let eval = if dir.join(EVAL_JSON).is_file() {
        Some(EvalReport::read(dir)?)
    } else {
        None
    };
    let summary_path = dir.join(SUMMARY_JSON);
    let summary = if summary_path.is_file() {
        let text = std::fs::read_to_string(&summary_path).map_err(|e| EvalError::Results {
            path: summary_path.clone(),
            message: e.to_string(),
        })?;
        Some(serde_json::from_str(&text).map_err(|e| EvalError::Results {
            path: summary_path.clone(),
            message: e.to_string(),
        })?)
    } else {
        None
    };
    Ok(RunResults {
        dir: dir.to_path_buf(),
        name,
        summary,
        eval,
    })
}

/// Scalar leaves of a JSON value with dotted keys (arrays, such as loss curves, are left out).
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(_) | Value::Null => {}
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        // Memory is recorded in bytes; a table reads better in GB.
        Value::Number(n) if prefix.ends_with("_bytes") => out.push((
            prefix.to_string(),
            n.as_u64()
                .map(crate::plan::memory::format_gb)
                .unwrap_or_else(|| n.to_string()),
        )),
        Value::Number(n) => out.push((
            prefix.to_string(),
            format_number(n.as_f64().unwrap_or(f64::NAN), n.is_f64()),
        )),
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
    }
}

fn format_number(x: f64, float: bool) -> String {
    if !float {
        return format!("{x}");
    }
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

fn push_column(columns: &mut Vec<String>, name: &str) -> usize {
    match columns.iter().position(|c| c == name) {
        Some(i) => i,
        None => {
            columns.push(name.to_string());
            columns.len() - 1
        }
    }
}

/// The side-by-side table: a `run` column, summary columns, then one column per score.
/// `split_stderr` puts standard errors in their own columns (for CSV).
pub fn build_table(runs: &[RunResults], subtasks: bool, stderr: bool, split_stderr: bool) -> Table {
    let mut columns: Vec<String> = vec!["run".into()];
    let mut rows: Vec<Vec<(usize, String)>> = Vec::new();
    for run in runs {
        let mut row = vec![(0, run.name.clone())];
        if let Some(summary) = &run.summary {
            let mut leaves = Vec::new();
            flatten("", summary, &mut leaves);
            for (k, v) in leaves {
                row.push((push_column(&mut columns, &k), v));
            }
        }
        rows.push(row);
    }
    for (run, row) in runs.iter().zip(rows.iter_mut()) {
        let Some(eval) = &run.eval else { continue };
        let hidden: Vec<&String> = if subtasks {
            Vec::new()
        } else {
            eval.scores.iter().flat_map(|s| s.members.iter()).collect()
        };
        for s in eval.scores.iter().filter(|s| !hidden.contains(&&s.name)) {
            let title = format!("{} ({})", s.name, s.metric);
            let value = format!("{:.4}", s.value);
            let se = s.stderr.map(|e| format!("{e:.4}")).unwrap_or_default();
            if stderr && split_stderr {
                row.push((push_column(&mut columns, &title), value));
                row.push((push_column(&mut columns, &format!("{} stderr", s.name)), se));
            } else if stderr && !se.is_empty() {
                row.push((push_column(&mut columns, &title), format!("{value} ± {se}")));
            } else {
                row.push((push_column(&mut columns, &title), value));
            }
        }
        row.push((
            push_column(&mut columns, "eval wall_s"),
            format!("{:.1}", eval.wall_s),
        ));
    }
    // Columns in the order the seed's tables read: the run and its swept values, its size and
    // cost, its losses, then the scores (kept in the order they were found).
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| columns.get(i).map_or(9, |c| column_rank(c)));
    let header: Vec<String> = order
        .iter()
        .filter_map(|&i| columns.get(i).cloned())
        .collect();
    let mut table = Table::new(header);
    for row in rows {
        let mut cells = vec![String::new(); columns.len()];
        for (i, v) in row {
            if let Some(c) = cells.get_mut(i) {
                *c = v;
            }
        }
        table.rows.push(
            order
                .iter()
                .map(|&i| cells.get(i).cloned().unwrap_or_default())
                .collect(),
        );
    }
    table
}

/// Where a column goes: run, swept values, parameters, memory, wall time, losses, other
/// summary values, scores.
fn column_rank(column: &str) -> u8 {
    let summary = !column.contains(" (") && column != "eval wall_s" && !column.ends_with(" stderr");
    if column == "run" {
        0
    } else if ["point.", "sweep.", "swept."]
        .iter()
        .any(|p| column.starts_with(p))
    {
        1
    } else if column.ends_with("trainable_params") {
        2
    } else if column.starts_with("memory.") {
        3
    } else if column.ends_with("wall_s") && summary {
        4
    } else if column.contains("loss") && summary {
        5
    } else if summary {
        6
    } else {
        7
    }
}

/// Sort key of a run directory: the shared `base` first, then its name with every run of digits
/// compared as a number.
fn natural_key(path: &std::path::Path) -> (bool, Vec<(String, u128)>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                parts.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u128::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    let last = if digits.is_empty() {
        0
    } else {
        digits.parse().unwrap_or(u128::MAX)
    };
    parts.push((text, last));
    (name != "base", parts)
}

#[cfg(test)]
mod tests {
    use super::natural_key;
    use std::path::PathBuf;

    #[test]
    fn runs_sort_base_first_then_by_number() {
        let mut names = vec![
            "r16-a32",
            "r128-a16",
            "base",
            "r4-a8",
            "r16-a8",
            "r8-ratio2-a16",
        ];
        names.sort_by_key(|n| natural_key(&PathBuf::from(n)));
        assert_eq!(
            names,
            [
                "base",
                "r4-a8",
                "r8-ratio2-a16",
                "r16-a8",
                "r16-a32",
                "r128-a16"
            ]
        );
    }
}
