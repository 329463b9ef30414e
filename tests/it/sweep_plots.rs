//! `plot_runs` on a synthetic r × alpha sweep written in the run-directory layout `lpipe run`
//! uses (metrics.jsonl, summary.json, eval.json). Set `LPIPE_KEEP_PLOTS=<dir>` to keep the
//! figures for a look.

use std::path::{Path, PathBuf};

use lpipe::eval::results::{EvalReport, FORMAT_VERSION, TaskScore};
use lpipe::sweep::plot_runs;

fn score(name: &str, value: f64) -> TaskScore {
    TaskScore {
        name: name.into(),
        metric: "acc".into(),
        value,
        stderr: Some(0.01),
        n: 100,
        n_total: 100,
        num_fewshot: Some(5),
        wall_s: 1.0,
        tokens: 1000,
        members: vec![],
        weight_by_size: None,
    }
}

/// One run: loss decays towards a floor that depends on r and alpha; MMLU peaks at r = 16.
fn write_run(sweep: &Path, r: u32, alpha: u32, partial_tail: bool) -> PathBuf {
    let dir = sweep.join(format!("r{r}-a{alpha}"));
    std::fs::create_dir_all(&dir).unwrap();
    let floor = 1.1 + 0.4 / f64::from(r).sqrt() - 0.0015 * f64::from(alpha);
    let mut lines = String::new();
    for step in (0..=300).step_by(10) {
        let t = f64::from(step);
        let wiggle = 0.03 * (t * 0.37 + f64::from(r)).sin();
        let loss = floor + 1.4 * (-t / 60.0).exp() + wiggle;
        lines += &format!(r#"{{"step":{step},"loss":{loss},"lr":0.0002,"tokens_per_s":900.0}}"#);
        lines += "\n";
        if step % 50 == 0 {
            let val = floor + 1.4 * (-t / 60.0).exp() + 0.05;
            lines += &format!(r#"{{"step":{step},"val_loss":{val}}}"#);
            lines += "\n";
        }
    }
    if partial_tail {
        lines += r#"{"step":310,"lo"#;
    }
    std::fs::write(dir.join("metrics.jsonl"), lines).unwrap();
    let summary = serde_json::json!({
        "run": format!("r{r}-a{alpha}"),
        "sweep": {"lora.r": r, "lora.alpha": alpha},
        "final_loss": floor,
        "trainable_params": 921_600 * r / 8,
        "wall_s": 120.0,
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    let lr = f64::from(r).log2();
    let mmlu = 0.30 + 0.02 * lr - 0.005 * (lr - 4.0).powi(2) + f64::from(alpha) / 4000.0;
    let report = EvalReport {
        format: FORMAT_VERSION,
        scores: vec![
            score("mmlu", mmlu),
            score("truthfulqa_mc2", 0.40 + 0.01 * lr),
        ],
        limit: None,
        seed: Some(1234),
        data_dir: PathBuf::from("../shared/data"),
        wall_s: 10.0,
        model: serde_json::Value::Null,
    };
    report.write(&dir).unwrap();
    dir
}

#[test]
fn sweep_figures_have_losses_and_metrics_against_each_swept_key() {
    let root = lpipe::testing::scratch("sweep-plots");
    let sweep = root.join("runs/r_alpha");
    for (i, r) in [2, 4, 8, 16, 32, 64].into_iter().enumerate() {
        for alpha in [16, 32] {
            write_run(&sweep, r, alpha, i == 0);
        }
    }
    let out = match std::env::var_os("LPIPE_KEEP_PLOTS") {
        Some(dir) => PathBuf::from(dir),
        None => root.join("figures"),
    };
    let written = plot_runs(std::slice::from_ref(&sweep), &out).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "losses.svg",
        "losses.png",
        "mmlu_acc-vs-lora_r.png",
        "mmlu_acc-vs-lora_alpha.svg",
        "truthfulqa_mc2_acc-vs-lora_r.png",
        "final_loss-vs-lora_r.svg",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // 2 figures for losses + 3 metrics × 2 swept keys, each SVG and PNG.
    assert_eq!(written.len(), 2 + 3 * 2 * 2, "{names:?}");

    let png = std::fs::read(out.join("losses.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 760));

    // plotters puts each text on its own line inside `<text>`.
    let svg = std::fs::read_to_string(out.join("losses.svg"))
        .unwrap()
        .replace('\n', "");
    for text in [
        "Training and validation loss",
        "step",
        "loss",
        "r2-a16",
        "r64-a32",
        "lines: training",
    ] {
        assert!(svg.contains(text), "losses.svg lacks `{text}`");
    }
    let svg = std::fs::read_to_string(out.join("mmlu_acc-vs-lora_r.svg"))
        .unwrap()
        .replace('\n', "");
    for text in [
        "mmlu acc vs lora.r",
        "lora.alpha",
        "alpha=16",
        "alpha=32",
        ">64<",
    ] {
        assert!(svg.contains(text), "mmlu_acc-vs-lora_r.svg lacks `{text}`");
    }
    // Nothing half-written is left next to the figures.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_directory_without_runs_is_a_diagnostic() {
    let root = lpipe::testing::scratch("sweep-none");
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let err = plot_runs(&[root.join("empty")], &root.join("out")).unwrap_err();
    let code = miette::Diagnostic::code(&err).unwrap().to_string();
    assert_eq!(code, "lpipe::E784");
    let err = plot_runs(&[root.join("missing")], &root.join("out")).unwrap_err();
    assert_eq!(
        miette::Diagnostic::code(&err).unwrap().to_string(),
        "lpipe::E780"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// `lpipe report --plot RUN_DIR`: `--plot` is a flag, so the run directory after it is a run
/// directory (it was once taken as the figures folder, leaving no runs).
#[test]
fn report_plot_flag_does_not_swallow_the_runs() {
    let root = lpipe::testing::scratch("report-plot-flag");
    let sweep = root.join("runs/r_alpha");
    for (i, r) in [2, 4].into_iter().enumerate() {
        write_run(&sweep, r, 16, i == 0);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .args(["report", "--plot"])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sweep.join("figures/losses.svg").is_file());
    let other = root.join("elsewhere");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .arg("report")
        .arg(&sweep)
        .arg("--plot-dir")
        .arg(&other)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(other.join("losses.png").is_file());
    std::fs::remove_dir_all(&root).ok();
}
