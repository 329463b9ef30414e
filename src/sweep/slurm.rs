//! A sweep as one Slurm job array: task `K` runs sweep point `K`, every task shares the cache
//! directory, so data and base weights prepared by one task are reused by the others.
//!
//! Files under `<sweep dir>/slurm/`: `array.sbatch` (the script), `job.json` (the last
//! submission), `<job>_<task>.out` (each task's output) and `status/<task>.{start,exit}`, which
//! the script writes so `lpipe status` can tell running from failed without Slurm's accounting.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::error::SweepError;
use crate::io::{write_atomic, write_json_atomic};

/// Name of the Slurm subdirectory of a sweep directory.
pub const SLURM_DIR: &str = "slurm";
/// The job-array script.
pub const SCRIPT: &str = "array.sbatch";
/// The record of the last submission.
pub const JOB_JSON: &str = "job.json";
/// Per-task start/exit markers.
pub const STATUS_DIR: &str = "status";

/// Everything needed to write a sweep's job-array script.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmPlan {
    /// The sweep directory (`runs/<pipeline>`), absolute: tasks may start elsewhere.
    pub sweep_dir: PathBuf,
    /// Point names in sweep order: array task `K` runs `points[K]` in `sweep_dir/points[K]`.
    pub points: Vec<String>,
    /// Shell line each task runs, with `LPIPE_POINT` (index), `LPIPE_POINT_NAME` and
    /// `LPIPE_RUN_DIR` set; see [`SlurmPlan::lpipe_run`].
    pub command: String,
    /// Working directory of every task (the project, so relative paths in the file resolve).
    pub workdir: PathBuf,
    /// Shared `LPIPE_CACHE_DIR`, absolute.
    pub cache_dir: PathBuf,
    /// `--job-name`.
    pub job_name: String,
    /// `--partition`; the cluster's default when absent.
    pub partition: Option<String>,
    /// GPUs per task (`--gpus`); none when 0.
    pub gpus_per_run: u32,
    /// `--cpus-per-task`.
    pub cpus_per_run: Option<u32>,
    /// `--mem` per task (`16G`).
    pub mem: Option<String>,
    /// `--time` per task (`4:00:00`).
    pub time: Option<String>,
    /// Most tasks running at once (`--array=0-N%M`).
    pub max_parallel: Option<u32>,
    /// Paths every task must see (the binary, the pipeline, the cache, the data): the script
    /// checks them on the node before running, so a node without the shared filesystem fails
    /// in a second with a message instead of half-way through.
    pub shared_paths: Vec<PathBuf>,
}

/// GPUs one task needs for `pipeline`'s devices: `cuda(i)` or `wgpu(i)` is the task's
/// `i + 1`-th GPU (Slurm numbers a task's GPUs from 0), the CPU needs none.
pub fn gpus_needed(pipeline: &crate::ir::Pipeline) -> u32 {
    pipeline
        .runs
        .iter()
        .map(|r| match r.config.model.device {
            crate::ir::Device::Cpu => 0,
            crate::ir::Device::Cuda(i) | crate::ir::Device::Wgpu(i) => i.saturating_add(1),
        })
        .max()
        .unwrap_or(0)
}

/// What `sbatch` accepted, saved as `slurm/job.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Slurm's job id of the array.
    pub job_id: String,
    /// The script submitted.
    pub script: PathBuf,
    /// Point names by task index.
    pub points: Vec<String>,
    /// Seconds since the Unix epoch.
    pub submitted_unix: u64,
}

impl SlurmPlan {
    /// A plan running `lpipe run <pipeline> --point K` per task, with no resource requests.
    pub fn new(
        lpipe: &Path,
        pipeline: &Path,
        sweep_dir: PathBuf,
        points: Vec<String>,
        workdir: PathBuf,
        cache_dir: PathBuf,
    ) -> SlurmPlan {
        let job_name = sweep_dir
            .file_name()
            .map(|n| format!("lpipe-{}", n.to_string_lossy()))
            .unwrap_or_else(|| "lpipe".into());
        SlurmPlan {
            command: SlurmPlan::lpipe_run(lpipe, pipeline, &[]),
            sweep_dir,
            points,
            workdir,
            cache_dir,
            job_name,
            partition: None,
            gpus_per_run: 0,
            cpus_per_run: None,
            mem: None,
            time: None,
            max_parallel: None,
            shared_paths: Vec::new(),
        }
    }

    /// The task command `'<lpipe>' run '<pipeline>' --point "$LPIPE_POINT" '<extra>'…`.
    pub fn lpipe_run(lpipe: &Path, pipeline: &Path, extra: &[String]) -> String {
        let mut line = format!(
            "{} run {} --point \"$LPIPE_POINT\"",
            quote(&lpipe.to_string_lossy()),
            quote(&pipeline.to_string_lossy())
        );
        for arg in extra {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        line
    }

    /// `<sweep dir>/slurm`.
    pub fn slurm_dir(&self) -> PathBuf {
        self.sweep_dir.join(SLURM_DIR)
    }

    /// Rejects values Slurm would refuse after a long queue wait.
    pub fn validate(&self) -> Result<(), SweepError> {
        if self.points.is_empty() {
            return Err(SweepError::Empty {
                what: "submit",
                message: "the sweep has no points".into(),
            });
        }
        let bad = |option: &'static str, value: &str, message: &str| SweepError::BadOption {
            option,
            value: value.to_string(),
            message: message.to_string(),
        };
        if let Some(p) = &self.partition
            && (p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ',')))
        {
            return Err(bad(
                "partition",
                p,
                "partition names are letters, digits, `-`, `_`, `.` (comma-separated)",
            ));
        }
        if let Some(t) = &self.time
            && !is_slurm_time(t)
        {
            return Err(bad(
                "time",
                t,
                "expected minutes, [D-]HH:MM[:SS], MM:SS or `infinite`",
            ));
        }
        if let Some(m) = &self.mem
            && !is_slurm_mem(m)
        {
            return Err(bad("mem", m, "expected a size such as `16G` or `4000M`"));
        }
        if self.max_parallel == Some(0) {
            return Err(bad("max-parallel", "0", "at least one task must run"));
        }
        for name in &self.points {
            if name.is_empty()
                || name.starts_with('.')
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(SweepError::Malformed {
                    path: self.sweep_dir.clone(),
                    message: format!("point name `{name}` is not a plain directory name"),
                });
            }
        }
        Ok(())
    }

    /// The job-array script.
    pub fn script(&self) -> String {
        let n = self.points.len();
        let slurm_dir = self.slurm_dir();
        let mut s = String::from("#!/bin/bash\n");
        s += "# Written by `lpipe submit`: one array task per sweep point.\n";
        s += &format!("#SBATCH --job-name={}\n", self.job_name);
        let throttle = self
            .max_parallel
            .map(|m| format!("%{m}"))
            .unwrap_or_default();
        s += &format!("#SBATCH --array=0-{}{throttle}\n", n.saturating_sub(1));
        s += &format!("#SBATCH --output={}/%A_%a.out\n", slurm_dir.display());
        s += &format!("#SBATCH --chdir={}\n", self.workdir.display());
        if let Some(p) = &self.partition {
            s += &format!("#SBATCH --partition={p}\n");
        }
        if self.gpus_per_run > 0 {
            s += &format!("#SBATCH --gpus={}\n", self.gpus_per_run);
        }
        if let Some(c) = self.cpus_per_run {
            s += &format!("#SBATCH --cpus-per-task={c}\n");
        }
        if let Some(m) = &self.mem {
            s += &format!("#SBATCH --mem={m}\n");
        }
        if let Some(t) = &self.time {
            s += &format!("#SBATCH --time={t}\n");
        }
        s += "set -uo pipefail\n";
        s += &format!(
            "export LPIPE_CACHE_DIR={}\n",
            quote(&self.cache_dir.to_string_lossy())
        );
        s += "points=(";
        s += &self
            .points
            .iter()
            .map(|p| quote(p))
            .collect::<Vec<_>>()
            .join(" ");
        s += ")\n";
        s += "export LPIPE_POINT=${SLURM_ARRAY_TASK_ID:?not a Slurm array task}\n";
        s += "export LPIPE_POINT_NAME=${points[$LPIPE_POINT]}\n";
        s += &format!(
            "export LPIPE_RUN_DIR={}/\"$LPIPE_POINT_NAME\"\n",
            quote(&self.sweep_dir.to_string_lossy())
        );
        s += &format!(
            "status={}\n",
            quote(&slurm_dir.join(STATUS_DIR).to_string_lossy())
        );
        s += "mkdir -p \"$status\" \"$LPIPE_RUN_DIR\"\n";
        // Markers are renamed into place so `lpipe status` never reads half a line.
        s += "mark() { printf '%s\\n' \"$2\" > \"$status/.$LPIPE_POINT.$1.$$\" && mv -f \"$status/.$LPIPE_POINT.$1.$$\" \"$status/$LPIPE_POINT.$1\"; }\n";
        s += "mark start \"${SLURM_ARRAY_JOB_ID:-?}_$LPIPE_POINT $(hostname) $(date +%s)\"\n";
        if !self.shared_paths.is_empty() {
            s += "# Written on the submitting host; every node must see them (a shared filesystem).\n";
            s += "for need in";
            for p in &self.shared_paths {
                s += " ";
                s += &quote(&p.to_string_lossy());
            }
            s += "; do\n";
            s += "  if [ ! -e \"$need\" ]; then\n";
            s += "    echo \"lpipe: $need is not visible on $(hostname); put it on a filesystem every node mounts\" >&2\n";
            s += "    mark exit 66; exit 66\n";
            s += "  fi\n";
            s += "done\n";
        }
        // A subshell, so an `exit` in the command still reaches the exit marker below.
        s += &format!("(\n{}\n)\n", self.command);
        s += "rc=$?\n";
        s += "mark exit \"$rc\"\n";
        s += "exit \"$rc\"\n";
        s
    }

    /// Writes the script (clearing the markers of a previous submission); returns its path.
    pub fn write(&self) -> Result<PathBuf, SweepError> {
        self.validate()?;
        let status = self.slurm_dir().join(STATUS_DIR);
        for i in 0..self.points.len() {
            for kind in ["start", "exit"] {
                let marker = status.join(format!("{i}.{kind}"));
                match std::fs::remove_file(&marker) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(SweepError::io(marker, e));
                    }
                    _ => {}
                }
            }
        }
        let path = self.slurm_dir().join(SCRIPT);
        write_atomic(&path, self.script().as_bytes()).map_err(|e| SweepError::io(&path, e))?;
        Ok(path)
    }

    /// Writes the script and submits it with `sbatch`; records the job in `slurm/job.json`.
    pub fn submit(&self) -> Result<Submission, SweepError> {
        let script = self.write()?;
        let output = Command::new("sbatch")
            .arg("--parsable")
            .arg(&script)
            .output()
            .map_err(|e| SweepError::Slurm {
                command: format!("sbatch --parsable {}", script.display()),
                message: e.to_string(),
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let job_id = parse_job_id(&stdout).filter(|_| output.status.success());
        let Some(job_id) = job_id else {
            return Err(SweepError::Slurm {
                command: format!("sbatch --parsable {}", script.display()),
                message: format!(
                    "{} {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        };
        let submission = Submission {
            job_id,
            script,
            points: self.points.clone(),
            submitted_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        let record = self.slurm_dir().join(JOB_JSON);
        write_json_atomic(&record, &submission).map_err(|e| SweepError::io(&record, e))?;
        Ok(submission)
    }
}

/// The job id in `sbatch --parsable` output (`1234` or `1234;cluster`).
pub fn parse_job_id(stdout: &str) -> Option<String> {
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
    let id = line.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

/// Reads `slurm/job.json` of a sweep directory, if a submission was recorded.
pub fn read_submission(sweep_dir: &Path) -> Result<Option<Submission>, SweepError> {
    let path = sweep_dir.join(SLURM_DIR).join(JOB_JSON);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| SweepError::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| SweepError::Malformed {
            path,
            message: e.to_string(),
        })
}

/// Single-quotes `s` for bash.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// Slurm's `--time` formats: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`, or infinite.
fn is_slurm_time(t: &str) -> bool {
    if matches!(t.to_ascii_lowercase().as_str(), "infinite" | "unlimited") {
        return true;
    }
    let (days, rest) = match t.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, t),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    days.is_none_or(all_digits) && parts.iter().all(|p| all_digits(p)) && parts.len() <= 3
}

fn is_slurm_mem(m: &str) -> bool {
    let digits = m.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    all_digits(digits) && m.len() - digits.len() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(points: &[&str]) -> SlurmPlan {
        SlurmPlan::new(
            Path::new("/opt/lpipe/bin/lpipe"),
            Path::new("/home/me/study/r alpha.lpipe"),
            PathBuf::from("/home/me/study/runs/r_alpha"),
            points.iter().map(|p| p.to_string()).collect(),
            PathBuf::from("/home/me/study"),
            PathBuf::from("/scratch/cache"),
        )
    }

    #[test]
    fn script_has_one_task_per_point_and_shares_the_cache() {
        let mut p = plan(&["r8-a16", "r16-a32", "r64-a128"]);
        p.partition = Some("gpu".into());
        p.gpus_per_run = 1;
        p.time = Some("4:00:00".into());
        p.max_parallel = Some(2);
        let s = p.script();
        assert!(s.contains("#SBATCH --array=0-2%2\n"), "{s}");
        assert!(
            s.contains("#SBATCH --partition=gpu\n#SBATCH --gpus=1\n"),
            "{s}"
        );
        assert!(s.contains("#SBATCH --time=4:00:00\n"), "{s}");
        assert!(s.contains("#SBATCH --output=/home/me/study/runs/r_alpha/slurm/%A_%a.out\n"));
        assert!(
            s.contains("export LPIPE_CACHE_DIR='/scratch/cache'\n"),
            "{s}"
        );
        assert!(
            s.contains("points=('r8-a16' 'r16-a32' 'r64-a128')\n"),
            "{s}"
        );
        assert!(
            s.contains("'/opt/lpipe/bin/lpipe' run '/home/me/study/r alpha.lpipe' --point \"$LPIPE_POINT\"\n"),
            "{s}"
        );
        assert!(!plan(&["a"]).script().contains("--gpus"));
    }

    #[test]
    fn the_script_runs_each_point_under_bash() {
        let dir = std::env::temp_dir().join(format!("lpipe-slurm-script-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut p = plan(&["r8", "r16"]);
        p.sweep_dir = dir.join("runs/sweep");
        p.workdir = dir.clone();
        p.command =
            "echo \"$LPIPE_POINT_NAME $LPIPE_CACHE_DIR\" > \"$LPIPE_RUN_DIR/out.txt\"; exit 3"
                .into();
        let script = p.write().unwrap();
        let out = Command::new("bash")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", "1")
            .env("SLURM_ARRAY_JOB_ID", "77")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        let written = std::fs::read_to_string(p.sweep_dir.join("r16/out.txt")).unwrap();
        assert_eq!(written, "r16 /scratch/cache\n");
        let status = p.slurm_dir().join(STATUS_DIR);
        assert_eq!(
            std::fs::read_to_string(status.join("1.exit")).unwrap(),
            "3\n"
        );
        assert!(
            std::fs::read_to_string(status.join("1.start"))
                .unwrap()
                .starts_with("77_1 ")
        );
        // Resubmitting clears the old markers.
        p.write().unwrap();
        assert!(!status.join("1.exit").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_options_are_rejected_before_submission() {
        let mut p = plan(&["a"]);
        p.time = Some("4h".into());
        assert!(matches!(
            p.validate(),
            Err(SweepError::BadOption { option: "time", .. })
        ));
        p.time = Some("1-12:00:00".into());
        p.validate().unwrap();
        p.partition = Some("gpu;rm -rf".into());
        assert!(matches!(
            p.validate(),
            Err(SweepError::BadOption {
                option: "partition",
                ..
            })
        ));
        p.partition = None;
        p.mem = Some("16GB".into());
        assert!(p.validate().is_err());
        p.mem = Some("16G".into());
        p.validate().unwrap();
        assert!(matches!(
            plan(&[]).validate(),
            Err(SweepError::Empty { .. })
        ));
        assert!(plan(&["../x"]).validate().is_err());
    }

    #[test]
    fn job_ids_from_sbatch_parsable() {
        assert_eq!(parse_job_id("1234\n").as_deref(), Some("1234"));
        assert_eq!(parse_job_id("88;cluster\n").as_deref(), Some("88"));
        assert_eq!(parse_job_id("Submitted batch job 5\n"), None);
        assert_eq!(parse_job_id(""), None);
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
