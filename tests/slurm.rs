//! A real Slurm round trip: a 4-point job array through `SlurmPlan::submit` on the cluster that
//! scripts/slurm-up.sh brings up, then `lpipe status`, `lpipe report` and the figures read its
//! results. Skipped where Slurm's client is not installed.

use std::path::PathBuf;
use std::process::Command;

use lpipe::sweep::slurm::SlurmPlan;

fn lpipe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpipe"));
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn job_array_runs_every_point_and_status_reads_the_results() {
    let sinfo = match Command::new("sinfo").arg("--noheader").output() {
        Ok(out) => out,
        Err(_) => {
            println!("skipped: slurm not running");
            return;
        }
    };
    // Installed but not answering is a broken setup, not a reason to skip.
    assert!(
        sinfo.status.success(),
        "sinfo failed (run scripts/slurm-up.sh): {}",
        String::from_utf8_lossy(&sinfo.stderr)
    );

    let root = std::env::temp_dir().join(format!("lpipe-slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let sweep = root.join("runs/tiny");
    let points: Vec<String> = ["r2", "r4", "r8", "r16"].map(String::from).to_vec();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_lpipe"));
    let mut plan = SlurmPlan::new(
        &exe,
        &root.join("tiny.lpipe"),
        sweep.clone(),
        points,
        root.clone(),
        root.join("cache"),
    );
    plan.time = Some("5".into());
    plan.cpus_per_run = Some(1);
    // Each point: the real binary, a two-line loss curve and a summary; point 3 fails on purpose.
    plan.command = format!(
        r#"{exe} --version > "$LPIPE_RUN_DIR/version.txt" || exit 1
[ "$LPIPE_POINT" = 3 ] && exit 3
r=$((2 << LPIPE_POINT))
printf '{{"step":0,"loss":3.0}}\n{{"step":10,"loss":%s}}\n' "1.$r" > "$LPIPE_RUN_DIR/metrics.jsonl"
printf '{{"run":"%s","sweep":{{"lora.r":%s}},"final_loss":1.%s,"cache":"%s"}}\n' \
  "$LPIPE_POINT_NAME" "$r" "$r" "$LPIPE_CACHE_DIR" > "$LPIPE_RUN_DIR/summary.json""#,
        exe = lpipe::sweep::slurm::quote(&exe.to_string_lossy()),
    );
    let submission = plan.submit().unwrap();
    assert!(submission.job_id.parse::<u64>().is_ok());

    let out = lpipe()
        .args(["status", "--wait", "--interval", "1", "--timeout", "180"])
        .arg(&sweep)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    // Exit 1: one point failed, as planned.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("Slurm job {}", submission.job_id)),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 finished, 0 running, 0 pending, 1 failed"),
        "{stdout}"
    );
    let r16 = stdout
        .lines()
        .find(|l| l.starts_with("r16"))
        .unwrap_or_default();
    assert!(r16.contains("failed") && r16.contains("exit 3"), "{stdout}");

    let version = format!("lpipe {}", env!("CARGO_PKG_VERSION"));
    for (k, name) in ["r2", "r4", "r8"].iter().enumerate() {
        let dir = sweep.join(name);
        let v = std::fs::read_to_string(dir.join("version.txt")).unwrap();
        assert_eq!(v.trim(), version);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["sweep"]["lora.r"], 2 << k);
        assert_eq!(
            summary["cache"],
            root.join("cache").to_string_lossy().into_owned()
        );
        let log = sweep.join(format!("slurm/{}_{k}.out", submission.job_id));
        assert!(log.is_file(), "{} missing", log.display());
    }

    let report = lpipe().arg("report").arg(&sweep).output().unwrap();
    let table = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(table.matches("final_loss").count(), 1, "{table}");
    for name in ["r2", "r4", "r8"] {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name));
        assert!(row.is_some_and(|r| r.contains("cache")), "{table}");
    }

    let figures = lpipe::sweep::plot_runs(std::slice::from_ref(&sweep), &root.join("fig")).unwrap();
    assert!(
        figures
            .iter()
            .any(|p| p.ends_with("final_loss-vs-lora_r.png")),
        "{figures:?}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
