//! `lpipe run` on a device whose backend this binary lacks: a spanned E317 before anything runs.
#![cfg(not(feature = "cuda"))]

use std::process::Command;

#[test]
fn run_on_cuda_without_the_feature_says_how_to_rebuild() {
    let runs = lpipe::testing::scratch("device").join("runs");
    let out = Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .args(["run", "pipelines/lora-defaults.lpipe", "--quiet", "--set"])
        .arg(format!("runs_dir=\"{}\"", runs.display()))
        .env("NO_COLOR", "1")
        .output()
        .expect("lpipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lpipe::E317"), "{stderr}");
    assert!(stderr.contains("device `cuda:0`"), "{stderr}");
    // The label sits under the key's value in the file.
    assert!(stderr.contains("device = cuda(0)"), "{stderr}");
    assert!(stderr.contains("this device"), "{stderr}");
    assert!(stderr.contains("--features cuda"), "{stderr}");
    // Nothing ran: no run directory was created.
    assert!(!runs.exists(), "{}", runs.display());
}
