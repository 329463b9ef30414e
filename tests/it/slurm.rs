//! A real Slurm round trip: `lpipe submit --slurm` sends a 2×2 r/alpha sweep of a tiny Llama
//! (written by the test, a few training steps and a small held-out evaluation per point) as a job
//! array to the single-node cluster scripts/slurm-up.sh brings up (`.ci/run` starts it); the test
//! waits for it with `lpipe status --wait`, then checks each point's results, `lpipe status` and
//! `lpipe report`. Skipped (counted; a failure under `LPIPE_REQUIRE_INPUTS=1`) where Slurm's client is not installed.

use std::process::Command;

use crate::support::sweep::{scratch, sweep_pipeline, write_tiny_llama};

fn lpipe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpipe"));
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn submitted_sweep_runs_every_point_and_report_reads_them() {
    if lpipe::testing::tool("sinfo", &["--version"]).is_none() {
        return;
    }
    let sinfo = Command::new("sinfo").arg("--noheader").output().unwrap();
    // Installed but not answering is a broken setup, not a reason to skip.
    assert!(
        sinfo.status.success(),
        "sinfo failed (run scripts/slurm-up.sh): {}",
        String::from_utf8_lossy(&sinfo.stderr)
    );

    let root = scratch("slurm");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = root.join("tiny-sweep.lpipe");
    std::fs::write(
        &file,
        sweep_pipeline(
            "tiny-sweep",
            &model,
            &root.join("runs"),
            "lora.alpha = [4, 8]",
        ),
    )
    .unwrap();
    let cache = root.join("cache");
    let checked = lpipe::check::check_file(&file, &[]);
    let pipeline = checked.pipeline.expect("the sweep checks");
    let names: Vec<String> = pipeline.runs.iter().map(|r| r.name.clone()).collect();
    assert_eq!(names.len(), 4, "{names:?}");

    let out = lpipe()
        .current_dir(&root)
        .env("LPIPE_CACHE_DIR", &cache)
        .args(["submit", "tiny-sweep.lpipe", "--slurm", "--time", "10"])
        .args(["--cpus-per-run", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job_id = stdout
        .split_whitespace()
        .nth(2)
        .map(|s| s.trim_end_matches(':').to_string())
        .unwrap_or_default();
    assert!(job_id.parse::<u64>().is_ok(), "{stdout}");
    // The array's points are the checker's expansion, in order.
    assert!(stdout.contains(&names.join(", ")), "{stdout}");
    let sweep = root.join("runs/tiny-sweep");

    let out = lpipe()
        .args(["status", "--wait", "--interval", "2", "--timeout", "600"])
        .arg(&sweep)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    println!("{status}");
    let logs = || {
        std::fs::read_dir(sweep.join("slurm"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".out"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n----\n")
            })
            .unwrap_or_default()
    };
    assert!(
        out.status.success(),
        "{status}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    assert!(status.contains(&format!("Slurm job {job_id}")), "{status}");
    assert!(
        status.contains("4 finished, 0 running, 0 pending, 0 failed"),
        "{status}"
    );

    for (k, run) in pipeline.runs.iter().enumerate() {
        let dir = sweep.join(&run.name);
        for f in [
            "summary.json",
            "eval.json",
            "metrics.jsonl",
            "adapter/adapter_config.json",
            "adapter/adapter_model.safetensors",
        ] {
            assert!(dir.join(f).is_file(), "{} lacks {f}\n{}", run.name, logs());
        }
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["run"], run.name.as_str());
        assert_eq!(summary["train"]["steps"], 3);
        // The answers fit in max_seq_len, so every step had loss-bearing tokens.
        let loss = summary["train"]["last_loss"].as_f64().unwrap_or(0.0);
        assert!(loss > 0.0 && loss.is_finite(), "{summary}");
        for (key, value) in &run.point {
            assert_eq!(summary["point"][key], value.as_str(), "{summary}");
        }
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("adapter/adapter_config.json")).unwrap(),
        )
        .unwrap();
        let r: u64 = run.point[0].1.parse().unwrap();
        assert_eq!(config["r"], r);
        let log = sweep.join(format!("slurm/{job_id}_{k}.out"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!("run {}: starting", run.name)),
            "{text}"
        );
    }
    // The tasks shared one cache: one tokenized dataset for the four points.
    let cached: Vec<_> = walk(&cache)
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("datasets")))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");

    let report = lpipe().arg("report").arg(&sweep).output().unwrap();
    let table = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("point.lora.r") && header.contains("point.lora.alpha"),
        "{table}"
    );
    for run in &pipeline.runs {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(run.name.as_str()));
        let Some(row) = row else {
            panic!("no row for {}:\n{table}", run.name);
        };
        let cells: Vec<&str> = row.split_whitespace().collect();
        for (_, value) in &run.point {
            assert!(cells.contains(&value.as_str()), "{row}");
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
