//! `lpipe submit --dry-run` and `lpipe status` through the binary, without a cluster.

use std::process::Command;

fn lpipe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpipe"));
    cmd.env("NO_COLOR", "1")
        .env("LPIPE_CACHE_DIR", "/scratch/shared-cache");
    cmd
}

#[test]
fn dry_run_writes_the_array_script_and_status_reads_the_sweep() {
    let root = std::env::temp_dir().join(format!("lpipe-submit-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("r alpha.lpipe");
    std::fs::write(&file, "# a sweep\n").unwrap();
    let out = lpipe()
        .current_dir(&root)
        .args([
            "submit",
            "r alpha.lpipe",
            "--slurm",
            "--dry-run",
            "--partition",
            "gpu",
        ])
        .args([
            "--gpus-per-run",
            "1",
            "--time",
            "2:00:00",
            "--points",
            "r8-a16,r16-a32",
        ])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(script.contains("#SBATCH --array=0-1\n"), "{script}");
    assert!(
        script.contains("#SBATCH --partition=gpu\n#SBATCH --gpus=1\n"),
        "{script}"
    );
    assert!(
        script.contains("export LPIPE_CACHE_DIR='/scratch/shared-cache'"),
        "{script}"
    );
    assert!(
        script.contains(&format!("run '{}' --point", file.display())),
        "{script}"
    );
    let written = root.join("runs/r_alpha/slurm/array.sbatch");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), script);

    // One point finished locally, one still training: status from files only.
    std::fs::create_dir_all(root.join("runs/r_alpha/r8-a16")).unwrap();
    std::fs::write(
        root.join("runs/r_alpha/r8-a16/summary.json"),
        r#"{"final_loss":1.25}"#,
    )
    .unwrap();
    std::fs::create_dir_all(root.join("runs/r_alpha/r16-a32")).unwrap();
    std::fs::write(
        root.join("runs/r_alpha/r16-a32/metrics.jsonl"),
        "{\"step\":7,\"loss\":2.5}\n{\"st",
    )
    .unwrap();
    let out = lpipe()
        .args(["status", "--no-slurm"])
        .arg(root.join("runs/r_alpha"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 finished, 1 running, 0 pending, 0 failed"),
        "{text}"
    );
    assert!(text.contains("step 7, loss 2.5000"), "{text}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn usage_and_bad_options() {
    let out = lpipe().args(["submit", "x.lpipe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let root = std::env::temp_dir().join(format!("lpipe-submit-bad-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("s.lpipe"), "").unwrap();
    let out = lpipe()
        .current_dir(&root)
        .args([
            "submit",
            "s.lpipe",
            "--slurm",
            "--dry-run",
            "--time",
            "4h",
            "--points",
            "a",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lpipe::E786") && err.contains("4h"), "{err}");
    let out = lpipe()
        .args(["status", "/nonexistent/sweep"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lpipe::E780"));
    std::fs::remove_dir_all(&root).unwrap();
}
