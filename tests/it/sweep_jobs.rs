//! Sweeps on one machine, on a tiny Llama. `lpipe run --jobs 2` on a 2×2 sweep in which two
//! points fail at run time (`precision = bf16`, which the CPU backend cannot run): the other two
//! still train and evaluate in their own processes, the end of the log lists the failed runs with
//! their error, the exit code is 1, and a re-run skips the finished points and retries only the
//! failed ones. Without `--jobs`: one process shares the loaded base between points, and a re-run
//! does no work.

use std::process::Command;

use crate::support::sweep::{scratch, sweep_pipeline, write_tiny_llama};

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
    // How many run at once is the planner's decision against this machine's free memory: check
    // that it was made from the planner's estimate and is one the rule allows, not a number.
    let decision = stderr
        .lines()
        .find_map(|l| l.strip_prefix("lpipe: jobs: 4 run(s) to do, "))
        .unwrap_or_else(|| panic!("no jobs decision: {stderr}"));
    let at_once: usize = decision.split(' ').next().unwrap().parse().unwrap();
    assert!(decision.contains("each run needs about"), "{decision}");
    match at_once {
        2 => assert!(!decision.contains("only"), "{decision}"),
        1 => assert!(decision.ends_with("only 1 fit)"), "{decision}"),
        n => panic!("{n} at a time with --jobs 2: {decision}"),
    }
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

/// Without `--jobs` the points run in turn in one process: the base model is loaded once and
/// reused, the tokenized data comes from the cache after the first point, and a re-run skips all.
#[test]
fn sequential_sweep_shares_the_base_and_skips_finished_points() {
    let root = scratch("seq");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = root.join("seq.lpipe");
    std::fs::write(
        &file,
        sweep_pipeline("seq", &model, &root.join("runs"), "lora.alpha = [4, 8]"),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lpipe"))
            .env("NO_COLOR", "1")
            .env("LPIPE_CACHE_DIR", root.join("cache"))
            .args(["run", "--quiet"])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("model: loaded").count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches("model: reused from run r2-a4").count(),
        3,
        "{stderr}"
    );
    assert_eq!(stderr.matches("dataset: tokenized and cached").count(), 1);
    // The points share the tokenize node's key: it runs once and is reused, not re-read.
    assert_eq!(
        stderr.matches("tokenize: reused from run r2-a4").count(),
        3,
        "{stderr}"
    );
    assert_eq!(stderr.matches("dataset: cached (key ").count(), 0);
    for name in ["r2-a4", "r2-a8", "r4-a4", "r4-a8"] {
        let dir = root.join("runs/seq").join(name);
        assert!(dir.join("summary.json").is_file(), "{name}: {stderr}");
    }
    // Same seed, same data: the runs differ only by their LoRA settings.
    let loss = |name: &str| {
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("runs/seq").join(name).join("summary.json"))
                .unwrap(),
        )
        .unwrap();
        s["train"]["last_loss"].as_f64().unwrap()
    };
    assert_ne!(loss("r2-a4"), loss("r2-a8"));

    let again = run(&[]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert_eq!(stderr.matches("finished earlier").count(), 8, "{stderr}");
    assert!(
        !stderr.contains("model: loaded"),
        "no work on a re-run: {stderr}"
    );

    // `--point K` runs exactly the checker's point K.
    let forced = run(&["--point", "2", "--force"]);
    let stderr = String::from_utf8_lossy(&forced.stderr);
    assert!(forced.status.success(), "{stderr}");
    assert!(stderr.contains("run r4-a4: starting"), "{stderr}");
    assert_eq!(stderr.matches(": starting").count(), 1, "{stderr}");
    let bad = run(&["--point", "9"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lpipe::E802"), "{stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}
