//! `lpipe check --resources` and `lpipe run` resolve every input before anything is created:
//! each missing one is a coded diagnostic at the key that names it (snapshots, one per input).

use std::path::Path;
use std::process::{Command, Output};

/// Runs `lpipe <args> p.lpipe` in `dir` (so paths in messages are short and stable), with an
/// empty HF cache and evaluation data in `dir/data`.
fn lpipe(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HF_HUB_CACHE", "hub")
        .env("LPIPE_CACHE_DIR", "cache")
        .args(args)
        .args(["--data-dir", "data", "p.lpipe"])
        .output()
        .unwrap()
}

/// A scratch directory holding `p.lpipe` with `model` and `rest` around an arithmetic dataset.
fn case(tag: &str, model: &str, rest: &str) -> std::path::PathBuf {
    let dir = lpipe::testing::scratch(&format!("preflight-{tag}"));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("p.lpipe"),
        format!(
            "dataset {{\n  source = arithmetic(count = 20)\n  template = alpaca\n}}\n\
             model {{\n{model}\n  arch = tiny\n}}\n{rest}"
        ),
    )
    .unwrap();
    dir
}

/// `lpipe check --resources`'s stderr, which must hold `code`.
fn refused(dir: &Path, code: &str) -> String {
    let out = lpipe(dir, &["check", "--resources"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(code), "{err}");
    err
}

#[test]
fn e160_missing_local_model() {
    let dir = case("e160", "  source = \"weights/model.gguf\"", "");
    insta::assert_snapshot!(refused(&dir, "lpipe::E160"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn e160_model_not_in_the_hf_cache() {
    let dir = case("e160-hf", "  source = hf(\"meta-llama/Llama-2-7b-hf\")", "");
    let err = refused(&dir, "lpipe::E160");
    assert!(err.contains("--exclude '*.bin'"), "{err}");
    insta::assert_snapshot!(err);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn e161_checkpoint_without_a_tokenizer() {
    let dir = case("e161", "  source = \"ckpt\"", "");
    std::fs::create_dir_all(dir.join("ckpt")).unwrap();
    std::fs::write(dir.join("ckpt/config.json"), "{}").unwrap();
    insta::assert_snapshot!(refused(&dir, "lpipe::E161"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn e162_missing_dataset_file() {
    let dir = case("e162", "  source = \"m.gguf\"", "");
    std::fs::write(dir.join("m.gguf"), b"GGUF").unwrap();
    let text = std::fs::read_to_string(dir.join("p.lpipe"))
        .unwrap()
        .replace("arithmetic(count = 20)", "json(\"alpaca_data.json\")");
    std::fs::write(dir.join("p.lpipe"), text).unwrap();
    insta::assert_snapshot!(refused(&dir, "lpipe::E162"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn e163_missing_evaluation_data() {
    let dir = case(
        "e163",
        "  source = \"m.gguf\"",
        "eval {\n  tasks = [truthfulqa_mc2, arithmetic_2da]\n}\n",
    );
    std::fs::write(dir.join("m.gguf"), b"GGUF").unwrap();
    let err = refused(&dir, "lpipe::E163");
    // Both tasks' files, each once.
    assert!(err.contains("data/truthfulqa/data/mc_task.json"), "{err}");
    assert!(err.contains("two_digit_addition.jsonl"), "{err}");
    assert_eq!(err.matches("lpipe::E163").count(), 2, "{err}");
    insta::assert_snapshot!(err);
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(not(feature = "cuda"))]
#[test]
fn e317_backend_not_compiled_in() {
    let dir = case("e317", "  source = \"m.gguf\"\n  device = cuda(0)", "");
    std::fs::write(dir.join("m.gguf"), b"GGUF").unwrap();
    insta::assert_snapshot!(refused(&dir, "lpipe::E317"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `lpipe run` refuses the same way before it makes a run directory or reads a weight.
#[test]
fn run_creates_nothing_when_an_input_is_missing() {
    let dir = case(
        "run",
        "  source = \"weights/model.gguf\"",
        "train {\n  optimizer = adamw(lr = 1e-3)\n  max_iters = 1\n  batch_size = 1\n  micro_batch_size = 1\n}\nlora {\n  r = 2\n}\n",
    );
    let out = lpipe(&dir, &["run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lpipe::E160"), "{err}");
    assert!(!dir.join("runs").exists(), "a run directory was made");
    assert!(!dir.join("cache").exists(), "the cache was touched");
    std::fs::remove_dir_all(&dir).ok();
}

/// Everything present: `check --resources` passes.
#[test]
fn present_inputs_pass() {
    let dir = case("ok", "  source = \"m.gguf\"", "");
    std::fs::write(dir.join("m.gguf"), b"GGUF").unwrap();
    let out = lpipe(&dir, &["check", "--resources"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `lpipe plan` lists what is missing and still plans (a plan is often made on a machine
/// without the weights).
#[test]
fn plan_lists_missing_inputs_and_still_plans() {
    let dir = case(
        "plan",
        "  source = hf(\"meta-llama/Llama-2-7b-hf\")",
        "eval {\n  tasks = [truthfulqa_mc2]\n}\n",
    );
    let out = lpipe(&dir, &["plan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let section = text
        .split_once("inputs not on this machine")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        section.contains("lpipe::E160  hub/models--meta-llama--Llama-2-7b-hf"),
        "{section}"
    );
    assert!(
        section.contains("lpipe::E163  data/truthfulqa/data/mc_task.json"),
        "{section}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
