//! `lpipe run --jobs 2` on a 2×2 sweep of a tiny Llama in which two points fail at run time
//! (`precision = bf16`, which the CPU backend cannot run): the other two still train and
//! evaluate in their own processes, the end of the log lists the failed runs with their error,
//! the exit code is 1, and a re-run skips the finished points and retries only the failed ones.

mod sweep_support;

use std::process::Command;

use sweep_support::{scratch, sweep_pipeline, write_tiny_llama};

#[test]
fn parallel_sweep_survives_failed_points_and_reports_them() {
    let root = scratch("jobs");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = root.join("jobs.lpipe");
    std::fs::write(
        &file,
        sweep_pipeline(
            "jobs",
            &model,
            &root.join("runs"),
            "model.precision = [f32, bf16]",
        ),
    )
    .unwrap();
    let checked = lpipe::check::check_file(&file, &[]);
    let pipeline = checked.pipeline.expect("the sweep checks");
    assert_eq!(pipeline.runs.len(), 4);
    let (good, bad): (Vec<_>, Vec<_>) = pipeline
        .runs
        .iter()
        .partition(|r| r.point.iter().any(|(_, v)| v == "f32"));
    assert_eq!((good.len(), bad.len()), (2, 2));

    let run = || {
        Command::new(env!("CARGO_BIN_EXE_lpipe"))
            .env("NO_COLOR", "1")
            .env("LPIPE_CACHE_DIR", root.join("cache"))
            .args(["run", "--quiet", "--jobs", "2"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The planner's estimate of a tiny model fits twice in any machine's free memory.
    assert!(stderr.contains("4 run(s) to do, 2 at a time"), "{stderr}");
    assert!(stderr.contains("shared stages: preparing once"), "{stderr}");
    assert!(
        stderr.contains("2 of 4 runs failed (2 finished):"),
        "{stderr}"
    );
    let summary = stderr
        .split("2 of 4 runs failed")
        .nth(1)
        .unwrap_or_default();
    for r in &bad {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{}:", r.name)))
            .unwrap_or_default();
        assert!(line.contains("bf16"), "{}: {stderr}", r.name);
        assert!(
            !root
                .join("runs/jobs")
                .join(&r.name)
                .join("summary.json")
                .exists()
        );
        assert!(
            root.join("runs/jobs")
                .join(&r.name)
                .join("run.log")
                .is_file(),
            "each process logs into its run directory"
        );
    }
    for r in &good {
        let dir = root.join("runs/jobs").join(&r.name);
        let log = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
        assert!(dir.join("summary.json").is_file(), "{}: {log}", r.name);
        assert!(dir.join("adapter/adapter_model.safetensors").is_file());
        assert!(dir.join("eval.json").is_file());
        // The parent tokenized the data once; the run processes found it in the cache.
        assert!(log.contains("dataset: cached (key "), "{log}");
        assert!(
            stderr.contains(&format!("run {}: finished in", r.name)),
            "{stderr}"
        );
    }

    let again = run();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    for r in &good {
        assert!(
            stderr.contains(&format!("run {}: finished earlier", r.name)),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("2 of 4 runs failed (2 finished):"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
