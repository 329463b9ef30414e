//! `plot_runs`: every figure a set of runs supports, from their directories.

use std::path::{Path, PathBuf};

use super::error::SweepError;
use super::plot::{plot_losses, plot_metric_vs_param};
use super::runs::{RunSeries, read_run};

/// Files whose presence makes a directory a run directory.
const RUN_FILES: &[&str] = &["metrics.jsonl", "summary.json", "eval.json"];

/// Whether `dir` holds a run's outputs.
pub fn is_run_dir(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).is_file())
}

/// Run directories given directly, or as the subdirectories of sweep directories (sorted).
pub fn expand_run_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SweepError> {
    let mut dirs = Vec::new();
    for path in paths {
        if is_run_dir(path) {
            dirs.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| SweepError::io(path, e))?;
        let mut subs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && is_run_dir(p))
            .collect();
        subs.sort_by_key(|p| natural_key(p));
        dirs.extend(subs);
    }
    Ok(dirs)
}

/// Writes the loss chart and one chart per (final metric, swept key) into `out_dir`, as SVG and
/// PNG; returns the files written. Accepts run directories and sweep directories.
pub fn plot_runs(run_dirs: &[PathBuf], out_dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    let dirs = expand_run_dirs(run_dirs)?;
    let runs = dirs
        .iter()
        .map(|d| read_run(d))
        .collect::<Result<Vec<_>, _>>()?;
    if runs.is_empty() {
        return Err(SweepError::Empty {
            what: "plot",
            message: "no run directories (with metrics.jsonl, summary.json or eval.json) found"
                .into(),
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|e| SweepError::io(out_dir, e))?;
    let mut written = Vec::new();

    let curves: Vec<_> = runs
        .iter()
        .map(|r| (r.name.clone(), r.train.clone(), r.val.clone()))
        .collect();
    if curves
        .iter()
        .any(|(_, t, v)| !t.is_empty() || !v.is_empty())
    {
        written.extend(plot_losses(&curves, &out_dir.join("losses"))?);
    }

    let swept = varying_params(&runs);
    for metric in metric_names(&runs) {
        for x_name in &swept {
            let others = grouping(&runs, x_name, &swept);
            let others: Vec<&String> = others.iter().collect();
            let points: Vec<(String, f64, f64)> = runs
                .iter()
                .filter_map(|r| {
                    let x = value(&r.params, x_name)?;
                    let y = value(&r.metrics, &metric)?;
                    Some((group_label(r, &others), x, y))
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let series_by = others
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let stem = out_dir.join(format!("{}-vs-{}", slug(&metric), slug(x_name)));
            written.extend(plot_metric_vs_param(
                &points,
                x_name,
                &metric_title(&metric),
                &series_by,
                &stem,
            )?);
        }
    }
    Ok(written)
}

/// Orders `r2` before `r16`: digit runs compare as numbers.
fn natural_key(path: &Path) -> Vec<(u8, u128, String)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut key = Vec::new();
    let mut rest = name.as_str();
    while let Some(c) = rest.chars().next() {
        let digits = c.is_ascii_digit();
        let end = rest
            .find(|ch: char| ch.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        key.push(match part.parse::<u128>() {
            Ok(n) if digits => (0, n, String::new()),
            _ => (1, 0, part.to_string()),
        });
        rest = tail;
    }
    key
}

fn value(pairs: &[(String, f64)], key: &str) -> Option<f64> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

/// Swept keys that take at least two values across the runs, in first-seen order.
fn varying_params(runs: &[RunSeries]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in runs.iter().flat_map(|r| &r.params) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.retain(|k| {
        let mut values: Vec<f64> = runs.iter().filter_map(|r| value(&r.params, k)).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        values.len() >= 2
    });
    keys
}

/// The swept keys that name the lines of a chart against `x`: the smallest set that, with `x`,
/// determines every other swept key, preferring fewer (longer) lines. A derived key such as
/// `lora.alpha = ratio * lora.r` is thus not a legend entry of its own when plotting against
/// `lora.r`: `ratio` is, and alpha follows from it.
fn grouping(runs: &[RunSeries], x: &str, swept: &[String]) -> Vec<String> {
    let others: Vec<&String> = swept.iter().filter(|k| *k != x).collect();
    if others.len() > 10 {
        return others.into_iter().cloned().collect();
    }
    let key_of = |run: &RunSeries, keys: &[&String]| -> Vec<u64> {
        keys.iter()
            .map(|k| value(&run.params, k).map_or(u64::MAX, f64::to_bits))
            .collect()
    };
    let mut best: Option<(usize, usize, Vec<&String>)> = None;
    for mask in 0u32..(1 << others.len()) {
        let subset: Vec<&String> = (0..others.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| others[i])
            .collect();
        let mut with_x = subset.clone();
        let x_key = x.to_string();
        with_x.push(&x_key);
        let determines = runs.iter().all(|a| {
            runs.iter()
                .filter(|b| key_of(a, &with_x) == key_of(b, &with_x))
                .all(|b| key_of(a, &others) == key_of(b, &others))
        });
        if !determines {
            continue;
        }
        let mut groups: Vec<Vec<u64>> = runs.iter().map(|r| key_of(r, &subset)).collect();
        groups.sort();
        groups.dedup();
        let rank = (subset.len(), groups.len());
        if best.as_ref().is_none_or(|(n, g, _)| rank < (*n, *g)) {
            best = Some((rank.0, rank.1, subset));
        }
    }
    match best {
        Some((_, _, subset)) => subset.into_iter().cloned().collect(),
        None => others.into_iter().cloned().collect(),
    }
}

fn metric_names(runs: &[RunSeries]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in runs.iter().flat_map(|r| &r.metrics) {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    names
}

/// How a metric reads in a title and on an axis: `lpipe run`'s summary keys in words, evaluation
/// scores (`mmlu acc`) as they are.
fn metric_title(metric: &str) -> String {
    match metric {
        "train.last_loss" => "final training loss".into(),
        "train.last_val_loss" => "final validation loss".into(),
        "train.best_val_loss" => "best validation loss".into(),
        other => other.to_string(),
    }
}

/// The legend entry of a run: its values of the other swept keys (`lora.alpha=16`).
fn group_label(run: &RunSeries, others: &[&String]) -> String {
    let parts: Vec<String> = others
        .iter()
        .filter_map(|k| value(&run.params, k).map(|v| format!("{}={v}", short_key(k))))
        .collect();
    if parts.is_empty() {
        "all runs".into()
    } else {
        parts.join(", ")
    }
}

/// `lora.alpha` → `alpha`: the legend title already names the full keys.
fn short_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A file-name-safe version of a metric or key name.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches('_').to_string();
    if s.is_empty() { "metric".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_labels() {
        assert_eq!(slug("mmlu acc"), "mmlu_acc");
        assert_eq!(slug("../x"), "x");
        let mut names = vec!["r16-a32", "r2-a4", "r2-a16", "base"];
        names.sort_by_key(|n| natural_key(Path::new(n)));
        assert_eq!(names, ["base", "r2-a4", "r2-a16", "r16-a32"]);
        assert_eq!(short_key("lora.alpha"), "alpha");
        assert_eq!(metric_title("train.last_val_loss"), "final validation loss");
        assert_eq!(metric_title("mmlu acc"), "mmlu acc");
        let run = RunSeries {
            params: vec![("lora.r".into(), 8.0), ("lora.alpha".into(), 16.0)],
            ..RunSeries::default()
        };
        assert_eq!(group_label(&run, &[&"lora.alpha".to_string()]), "alpha=16");
        assert_eq!(group_label(&run, &[]), "all runs");
    }

    #[test]
    fn derived_keys_do_not_split_the_lines() {
        let mut runs = Vec::new();
        for r in [8.0, 16.0, 32.0] {
            for ratio in [0.5, 1.0, 2.0, 4.0] {
                runs.push(RunSeries {
                    params: vec![
                        ("lora.alpha".into(), ratio * r),
                        ("lora.r".into(), r),
                        ("ratio".into(), ratio),
                    ],
                    ..RunSeries::default()
                });
            }
        }
        let swept = varying_params(&runs);
        assert_eq!(grouping(&runs, "lora.r", &swept), vec!["ratio".to_string()]);
        assert_eq!(grouping(&runs, "ratio", &swept), vec!["lora.r".to_string()]);
        // Against alpha either other key determines the third; three r lines beat four ratios.
        assert_eq!(
            grouping(&runs, "lora.alpha", &swept),
            vec!["lora.r".to_string()]
        );
    }

    #[test]
    fn constant_keys_are_not_plotted_against() {
        let run = |r: f64| RunSeries {
            params: vec![("lora.r".into(), r), ("lora.alpha".into(), 16.0)],
            ..RunSeries::default()
        };
        assert_eq!(
            varying_params(&[run(8.0), run(16.0)]),
            vec!["lora.r".to_string()]
        );
    }
}
