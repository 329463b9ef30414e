//! `lpipe run` end to end on SmolLM2: a few LoRA steps on synthetic arithmetic, evaluation before
//! and after, the run directory's files, and a re-run that skips the finished run.

use std::path::Path;
use std::process::Command;

fn pipeline(model: &Path, runs: &Path) -> String {
    format!(
        r#"name = "tiny-run"
runs_dir = "{runs}"

dataset {{
  source = arithmetic(digits = 2, ops = [plus, minus], count = 64, seed = 3)
  template = alpaca
  max_seq_len = 64
  mask_prompt = true
  val_split = 0.125
  seed = 1
}}

model {{
  source = "{model}"
  precision = f32
  device = cpu
}}

lora {{
  targets = [query, value]
  r = 4
  alpha = 8
  dropout = 0.0
}}

train {{
  optimizer = adamw(lr = 1e-3, weight_decay = 0.0)
  schedule = warmup(1) then cosine
  batch_size = 2
  micro_batch_size = 2
  max_iters = 3
  seed = 7
  checkpoint_interval = 2
}}

eval heldout {{
  tasks = [heldout(max_new_tokens = 4)]
  on = [base, adapter]
  limit = 3
}}
"#,
        runs = runs.display(),
        model = model.display()
    )
}

#[test]
fn run_writes_a_complete_run_directory_and_skips_it_next_time() {
    let Some(model) = lpipe::testing::smollm2() else {
        return;
    };
    let model = model.canonicalize().unwrap();
    let tmp = lpipe::testing::scratch("run");
    let runs = tmp.join("runs");
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("tiny.lpipe");
    std::fs::write(&file, pipeline(&model, &runs)).unwrap();

    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lpipe"))
            .args(["run", "--quiet"])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");

    let dir = runs.join("tiny-run/tiny-run");
    for f in [
        "pipeline.ron",
        "metrics.jsonl",
        "summary.json",
        "eval.json",
        "samples.jsonl",
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}\n{stderr}");
    }
    assert!(runs.join("tiny-run/base/eval.json").is_file());
    let steps = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"step\""))
        .count();
    // max_iters counts micro-batches: 3 iterations of one micro-batch each.
    assert_eq!(steps, 3, "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["train"]["steps"], 3);
    assert_eq!(
        summary["train"]["trainable_params"],
        30 * 4 * (576 + 576 + 576 + 192)
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("adapter/adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["r"], 4);
    assert!(std::fs::read_dir(dir.join("checkpoints")).unwrap().count() > 0);

    let second = run(&[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains("run tiny-run: finished earlier") && stderr.contains("skipped"),
        "{stderr}"
    );

    // Forced: the base evaluation is reused and training resumes from its last checkpoint.
    let third = run(&["--force"]);
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(third.status.success(), "{stderr}");
    assert!(stderr.contains("eval on base: cached"), "{stderr}");
    assert!(
        stderr.contains("dataset: cached (key "),
        "tokenized data should come from the cache: {stderr}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
