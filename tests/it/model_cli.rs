//! `lpipe generate` and `lpipe score` end to end on SmolLM2 (golden: forward.json "plain").

use std::process::Command;

fn lpipe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lpipe"))
}

#[test]
fn score_json_and_greedy_generation_match_reference() {
    let Some(model) = lpipe::testing::smollm2() else {
        return;
    };
    let out = lpipe()
        .args(["score", "--json", "--model"])
        .arg(&model)
        .args(["--context", "The capital of France is"])
        .args([
            "--continuation",
            " Paris, and the capital of Germany is Berlin.",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Reference: transformers 5.24, continuation_sum_logprob = -9.24851509815861 (1e-3 per token).
    assert!((v["sum_logprob"].as_f64().unwrap() + 9.24851509815861).abs() < 1e-2);
    assert_eq!(
        v["context_ids"],
        serde_json::json!([504, 3575, 282, 4649, 314])
    );

    let out = lpipe()
        .args(["generate", "--max-new-tokens", "16", "--model"])
        .arg(&model)
        .args(["--prompt", "The capital of France is"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        " Paris.\n\nThe answer is: 2018-01\n"
    );
}

#[test]
fn missing_model_is_a_diagnostic() {
    let out = lpipe()
        .args([
            "score",
            "--model",
            "/nonexistent/m.gguf",
            "--context",
            "a",
            "--continuation",
            "b",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lpipe::E300") && err.contains("/nonexistent/m.gguf"),
        "{err}"
    );
}
