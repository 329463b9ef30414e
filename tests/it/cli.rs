//! The binary's exit codes: 0 ok, 1 diagnostics with errors, 2 usage.

use std::process::Command;

fn lpipe(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .args(args)
        .output()
        .expect("lpipe runs")
}

#[test]
fn check_exits_0_on_valid_files_even_with_warnings() {
    let out = lpipe(&[
        "check",
        "pipelines/lora-defaults.lpipe",
        "tests/diagnostics/E150.lpipe",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lpipe::E150"), "{stderr}");
}

#[test]
fn every_shipped_pipeline_checks_with_exit_0() {
    let mut files: Vec<String> = std::fs::read_dir("pipelines")
        .expect("pipelines/")
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .filter(|p| p.ends_with(".lpipe"))
        .collect();
    files.sort();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let out = lpipe(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_exits_1_on_errors() {
    let out = lpipe(&["check", "tests/diagnostics/E107.lpipe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lpipe::E107"));
    let out = lpipe(&["check", "tests/diagnostics/does-not-exist.lpipe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lpipe::E100"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(lpipe(&["check"]).status.code(), Some(2));
    assert_eq!(
        lpipe(&["plan", "pipelines/quickstart.lpipe", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(lpipe(&["fmt", "--nope", "x.lpipe"]).status.code(), Some(2));
}

#[test]
fn set_changes_the_checked_value() {
    let out = lpipe(&[
        "check",
        "pipelines/lora-defaults.lpipe",
        "--set",
        "lora.r=0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    // The override reaches the validated pipeline: r and the alpha derived from it change.
    let r_alpha = |sets: &[&str]| {
        let mut args = vec!["plan", "pipelines/lora-defaults.lpipe", "--format", "json"];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = lpipe(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{sets:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p: lpipe::ir::Pipeline = serde_json::from_slice(&out.stdout).unwrap();
        let lora = p.runs[0].config.lora.clone().unwrap();
        (lora.r, lora.alpha)
    };
    assert_eq!(r_alpha(&[]), (8, 16.0));
    assert_eq!(r_alpha(&["lora.r = 16"]), (16, 16.0));
    assert_eq!(r_alpha(&["lora.r = 16", "lora.alpha=2*r"]), (16, 32.0));
}

#[test]
fn fmt_check_reports_unformatted_files() {
    let dir = lpipe::testing::scratch("fmt-test");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("messy.lpipe");
    std::fs::write(&file, "lora{r=8 # rank\nalpha=2*r}\n").expect("write");
    let path = file.to_str().expect("utf-8 path");
    assert_eq!(lpipe(&["fmt", "--check", path]).status.code(), Some(1));
    assert_eq!(lpipe(&["fmt", path]).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "lora {\n  r = 8  # rank\n  alpha = 2 * r\n}\n"
    );
    assert_eq!(lpipe(&["fmt", "--check", path]).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// RON and JSON are the validated pipeline itself: both read back into the value the checker
/// builds; text and dot describe its stage graph.
#[test]
fn plan_prints_every_format() {
    let file = "pipelines/quickstart.lpipe";
    let want = lpipe::check::check_file(std::path::Path::new(file), &[])
        .pipeline
        .unwrap();
    let stdout = |format: &str| {
        let out = lpipe(&["plan", file, "--format", format, "--no-lengths"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let from_json: lpipe::ir::Pipeline = serde_json::from_str(&stdout("json")).unwrap();
    assert_eq!(from_json, want);
    let from_ron = lpipe::ir::Pipeline::from_ron(&stdout("ron")).unwrap();
    assert_eq!(from_ron, want);
    let plan: serde_json::Value = serde_json::from_str(&stdout("plan-json")).unwrap();
    assert_eq!(plan["pipeline"], "quickstart");
    let text = stdout("text");
    assert!(
        text.contains("2,442,240"),
        "trainable parameters missing:\n{text}"
    );
    let dot = stdout("dot");
    assert!(dot.starts_with("digraph") && dot.contains("->"), "{dot}");
}

/// A GPU benchmark in a build without that backend fails once, up front, with the device
/// diagnostic and exit 1 (not a child per variant and an empty table with exit 0).
#[cfg(not(feature = "cuda"))]
#[test]
fn gpu_bench_without_the_backend_fails_up_front() {
    let out = lpipe(&[
        "bench",
        "qlora",
        "--device",
        "cuda",
        "--model",
        "no-such-dir",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("lpipe::E317").count(), 1, "{stderr}");
    assert!(!stderr.contains("bench qlora: lora"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `lpipe --version` names the backends this build has, so a CPU-only binary is recognisable
/// before a run refuses `device = cuda(0)`.
#[test]
fn version_lists_the_compiled_backends() {
    let out = lpipe(&["--version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let backends = text
        .split_once("(backends: ")
        .and_then(|(_, b)| b.trim().strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text}"));
    let expected: Vec<&str> = ["cpu"]
        .into_iter()
        .chain(cfg!(feature = "cuda").then_some("cuda"))
        .chain(cfg!(feature = "wgpu").then_some("wgpu"))
        .collect();
    assert_eq!(backends, expected.join(", "), "{text}");
}
