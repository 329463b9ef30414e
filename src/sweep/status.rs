//! Each sweep point's state, from the files runs and job scripts leave behind, refined by
//! `squeue` (what is queued or running now) and `sacct` (why a task ended) when they answer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::error::SweepError;
use super::figures::is_run_dir;
use super::runs::read_metrics;
use super::slurm::{SLURM_DIR, STATUS_DIR, Submission, read_submission};

/// Where a point is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not started.
    Pending,
    /// Started, not finished.
    Running,
    /// Finished with results.
    Finished,
    /// Ended without results.
    Failed,
}

impl State {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Finished => "finished",
            State::Failed => "failed",
        }
    }
}

/// One point's row of `lpipe status`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PointStatus {
    /// Array task index (sweep order).
    pub index: usize,
    /// Point name (`r16-a32`).
    pub name: String,
    /// Merged state.
    pub state: State,
    /// Slurm's own state of the task (`RUNNING`, `TIMEOUT`), when known.
    pub slurm: Option<String>,
    /// Progress or the reason for a failure.
    pub detail: String,
}

/// What Slurm said about the tasks of one array job; `None` fields mean the command did not answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlurmView {
    /// Task index → state, for tasks still queued or running; None when squeue failed.
    pub queue: Option<HashMap<usize, String>>,
    /// Task index → (state, exit code), when accounting is enabled.
    pub accounting: Option<HashMap<usize, (String, String)>>,
}

impl SlurmView {
    /// Asks `squeue` and `sacct` about `job_id`.
    pub fn query(job_id: &str) -> SlurmView {
        let squeue = run(
            "squeue",
            &["--noheader", "--array", "--jobs", job_id, "--format=%i|%T"],
        );
        let queue = match squeue {
            Ok(out) => Some(parse_squeue(&out, job_id)),
            // A job that left the queue is "invalid" to squeue: nothing of it is queued.
            Err(err) if err.contains("Invalid job id") => Some(HashMap::new()),
            Err(_) => None,
        };
        let accounting = run(
            "sacct",
            &[
                "--noheader",
                "--parsable2",
                "--jobs",
                job_id,
                "--format=JobID,State,ExitCode",
            ],
        )
        .ok()
        .map(|out| parse_sacct(&out, job_id));
        SlurmView { queue, accounting }
    }
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `squeue --format=%i|%T` lines (`77_3|RUNNING`, `77_[4-9%2]|PENDING`) → task → state.
pub fn parse_squeue(text: &str, job_id: &str) -> HashMap<usize, String> {
    let mut tasks = HashMap::new();
    for line in text.lines() {
        let Some((id, state)) = line.trim().split_once('|') else {
            continue;
        };
        let Some(task) = id.strip_prefix(job_id).and_then(|t| t.strip_prefix('_')) else {
            continue;
        };
        for index in task_indices(task) {
            tasks.insert(index, state.trim().to_string());
        }
    }
    tasks
}

/// `3` → [3]; `[4-6,9%2]` → [4, 5, 6, 9].
fn task_indices(task: &str) -> Vec<usize> {
    let inner = task.trim_start_matches('[').trim_end_matches(']');
    let inner = inner.split('%').next().unwrap_or("");
    let mut out = Vec::new();
    for part in inner.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    // A bounded range: a malformed huge range must not allocate without end.
                    out.extend(a..=b.min(a.saturating_add(100_000)));
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

/// `sacct --parsable2 --format=JobID,State,ExitCode` → task → (state, exit code); steps skipped.
pub fn parse_sacct(text: &str, job_id: &str) -> HashMap<usize, (String, String)> {
    let mut tasks = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.trim().split('|').collect();
        let [id, state, exit, ..] = fields.as_slice() else {
            continue;
        };
        let Some(task) = id.strip_prefix(job_id).and_then(|t| t.strip_prefix('_')) else {
            continue;
        };
        if task.contains('.') {
            continue;
        }
        // `CANCELLED by 0` → `CANCELLED`.
        let state = state.split_whitespace().next().unwrap_or("").to_string();
        for index in task_indices(task) {
            tasks.insert(index, (state.clone(), exit.to_string()));
        }
    }
    tasks
}

/// Every point's state. Points come from the last Slurm submission, else from the run
/// directories found in `sweep_dir`. `query_slurm` asks squeue/sacct about the submitted job.
pub fn sweep_status(sweep_dir: &Path, query_slurm: bool) -> Result<Vec<PointStatus>, SweepError> {
    sweep_status_of(sweep_dir, None, query_slurm)
}

/// As [`sweep_status`], with the sweep's point names when known (from the pipeline file), so
/// points that have not started yet are listed as pending.
pub fn sweep_status_of(
    sweep_dir: &Path,
    expected: Option<Vec<String>>,
    query_slurm: bool,
) -> Result<Vec<PointStatus>, SweepError> {
    let submission = read_submission(sweep_dir)?;
    let points = match (&submission, expected) {
        (Some(s), _) => s.points.clone(),
        (None, Some(names)) => names,
        (None, None) => local_points(sweep_dir)?,
    };
    let view = match (&submission, query_slurm) {
        (Some(s), true) => SlurmView::query(&s.job_id),
        _ => SlurmView::default(),
    };
    Ok(points
        .iter()
        .enumerate()
        .map(|(i, name)| point_status(sweep_dir, submission.as_ref(), &view, i, name))
        .collect())
}

fn local_points(sweep_dir: &Path) -> Result<Vec<String>, SweepError> {
    let entries = std::fs::read_dir(sweep_dir).map_err(|e| SweepError::io(sweep_dir, e))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != SLURM_DIR && is_run_dir(&e.path()) && !is_base_eval(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The base model's shared evaluation (`<sweep>/base/`, keyed by `cache_key`) is not a point.
fn is_base_eval(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == "base") && dir.join("cache_key").is_file()
}

/// Merges one point's files with Slurm's view.
pub fn point_status(
    sweep_dir: &Path,
    submission: Option<&Submission>,
    view: &SlurmView,
    index: usize,
    name: &str,
) -> PointStatus {
    let run_dir = sweep_dir.join(name);
    let markers = sweep_dir.join(SLURM_DIR).join(STATUS_DIR);
    let read = |p: PathBuf| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let exit = read(markers.join(format!("{index}.exit")));
    let started = markers.join(format!("{index}.start")).is_file();
    let queued = view.queue.as_ref().and_then(|q| q.get(&index)).cloned();
    let accounted = view
        .accounting
        .as_ref()
        .and_then(|a| a.get(&index))
        .cloned();
    let log = submission.map(|s| format!("log: {SLURM_DIR}/{}_{index}.out", s.job_id));
    let with_log = |text: String| match &log {
        Some(log) => format!("{text}; {log}"),
        None => text,
    };
    let finished = run_dir.join("summary.json").is_file();

    let (state, detail) = match (exit.as_deref(), &queued) {
        (Some("0"), _) => (State::Finished, progress(&run_dir)),
        (Some(code), _) => (State::Failed, with_log(format!("exit {code}"))),
        (None, _) if finished && queued.is_none() => (State::Finished, progress(&run_dir)),
        (None, Some(q)) if q == "PENDING" || q == "CONFIGURING" => {
            (State::Pending, "queued".into())
        }
        (None, Some(_)) => (State::Running, progress(&run_dir)),
        (None, None) if view.queue.is_some() && submission.is_some() => {
            // Submitted, no longer queued, no exit marker: killed (time limit, memory, node).
            let why = match &accounted {
                Some((state, code)) => format!("{state} (exit {code})"),
                None if started => {
                    "ended without an exit marker (time limit, memory or node failure?)".into()
                }
                None => "left the queue without starting (cancelled?)".into(),
            };
            (State::Failed, with_log(why))
        }
        (None, None) if started || run_dir.join("metrics.jsonl").is_file() => {
            (State::Running, progress(&run_dir))
        }
        (None, None) => (State::Pending, String::new()),
    };
    PointStatus {
        index,
        name: name.to_string(),
        state,
        slurm: queued.or(accounted.map(|a| a.0)),
        detail,
    }
}

/// `step 120, loss 1.234` from the last metrics line, or the summary's final loss.
fn progress(run_dir: &Path) -> String {
    let summary = std::fs::read_to_string(run_dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    if let Some(loss) = summary
        .as_ref()
        .and_then(|s| s.get("final_loss"))
        .and_then(Value::as_f64)
    {
        return format!("final loss {loss:.4}");
    }
    match read_metrics(&run_dir.join("metrics.jsonl")) {
        Ok((train, _)) => match train.last() {
            Some((step, loss)) => format!("step {step}, loss {loss:.4}"),
            None => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// Counts per state, in display order.
pub fn counts(points: &[PointStatus]) -> Vec<(State, usize)> {
    [
        State::Finished,
        State::Running,
        State::Pending,
        State::Failed,
    ]
    .into_iter()
    .map(|s| (s, points.iter().filter(|p| p.state == s).count()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_and_sacct_lines() {
        let q = parse_squeue("77_3|RUNNING\n77_[4-6%2]|PENDING\n78_1|RUNNING\n", "77");
        assert_eq!(q.get(&3).map(String::as_str), Some("RUNNING"));
        assert_eq!(q.get(&5).map(String::as_str), Some("PENDING"));
        assert_eq!(q.len(), 4);
        let a = parse_sacct(
            "77_0|COMPLETED|0:0\n77_0.batch|COMPLETED|0:0\n77_1|TIMEOUT|0:15\n77_2|CANCELLED by 0|0:0\n",
            "77",
        );
        assert_eq!(
            a.get(&1),
            Some(&("TIMEOUT".to_string(), "0:15".to_string()))
        );
        assert_eq!(a.get(&2).map(|x| x.0.as_str()), Some("CANCELLED"));
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn files_and_queue_merge_into_states() {
        let dir = std::env::temp_dir().join(format!("lpipe-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let markers = dir.join(SLURM_DIR).join(STATUS_DIR);
        std::fs::create_dir_all(&markers).unwrap();
        for (i, name) in ["done", "broke", "busy", "waiting", "killed"]
            .iter()
            .enumerate()
        {
            std::fs::create_dir_all(dir.join(name)).unwrap();
            if i != 3 {
                std::fs::write(markers.join(format!("{i}.start")), "9_0 host 1\n").unwrap();
            }
        }
        std::fs::write(markers.join("0.exit"), "0\n").unwrap();
        std::fs::write(dir.join("done/summary.json"), r#"{"final_loss":1.5}"#).unwrap();
        std::fs::write(markers.join("1.exit"), "2\n").unwrap();
        std::fs::write(
            dir.join("busy/metrics.jsonl"),
            "{\"step\":4,\"loss\":2.0}\n",
        )
        .unwrap();
        let sub = Submission {
            job_id: "9".into(),
            script: dir.join("slurm/array.sbatch"),
            points: vec![],
            submitted_unix: 0,
        };
        let view = SlurmView {
            queue: Some(HashMap::from([
                (2, "RUNNING".into()),
                (3, "PENDING".into()),
            ])),
            accounting: None,
        };
        let st = |i: usize, name: &str| point_status(&dir, Some(&sub), &view, i, name);
        assert_eq!(
            (st(0, "done").state, st(0, "done").detail),
            (State::Finished, String::from("final loss 1.5000"))
        );
        assert_eq!(st(1, "broke").state, State::Failed);
        assert!(st(1, "broke").detail.contains("exit 2; log: slurm/9_1.out"));
        assert_eq!(
            (st(2, "busy").state, st(2, "busy").detail),
            (State::Running, String::from("step 4, loss 2.0000"))
        );
        assert_eq!(st(3, "waiting").state, State::Pending);
        assert_eq!(st(4, "killed").state, State::Failed);
        // Without Slurm's answer a started task without exit marker is taken as running.
        let blind = point_status(&dir, Some(&sub), &SlurmView::default(), 4, "killed");
        assert_eq!(blind.state, State::Running);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
