//! Keys the checker accepts take effect in `lpipe run`: the `report` stage writes its formats and
//! figures for every point, `max_time` stops resumably and the pieces add up to the uninterrupted
//! run bit for bit, `log_interval` paces the progress lines, and `lora.init = peft(dir)` starts
//! from that adapter (refusing one that does not match the `lora` block).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::lpipe;

use crate::support::sweep::{scratch, sweep_pipeline, write_tiny_llama};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A pipeline file under `root` from the sweep template, edited by `edit`.
fn pipeline(root: &Path, name: &str, model: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let file = root.join(format!("{name}.lpipe"));
    let text = edit(sweep_pipeline(name, model, &root.join("runs"), ""));
    std::fs::write(&file, text).unwrap();
    file
}

/// The single-run form: the sweep block dropped.
fn no_sweep(text: String) -> String {
    let cut = text.find("sweep {").unwrap();
    text[..cut].to_string()
}

fn adapter_bytes(run_dir: &Path) -> Vec<u8> {
    std::fs::read(run_dir.join("adapter/adapter_model.safetensors")).unwrap()
}

#[test]
fn report_stage_writes_every_format_and_figure_for_every_point() {
    let root = scratch("keys-report");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = pipeline(&root, "reported", &model, |t| {
        t.replacen(
            "sweep {",
            "report {\n  formats = [table, markdown, csv]\n  plot = true\n}\n\nsweep {",
            1,
        )
    });
    let out = lpipe(&root, &["run", "--quiet"], &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let sweep = root.join("runs/reported");
    let csv = std::fs::read_to_string(sweep.join("report.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one row per point:\n{csv}");
    assert!(lines[0].starts_with("run,"), "{csv}");
    let rows: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(rows, ["r2", "r4"], "{csv}");
    let md = std::fs::read_to_string(sweep.join("report.md")).unwrap();
    assert!(md.starts_with("| run |") && md.contains("| r4 "), "{md}");
    let table = std::fs::read_to_string(sweep.join("report.txt")).unwrap();
    assert!(table.contains("r2") && table.contains("r4"), "{table}");
    let figures: Vec<_> = std::fs::read_dir(sweep.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(figures.iter().any(|f| f.ends_with(".svg")), "{figures:?}");
    assert!(stderr(&out).contains("report: "), "{}", stderr(&out));
}

#[test]
fn max_time_stops_resumably_and_the_pieces_equal_one_run() {
    let root = scratch("keys-max-time");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let whole = pipeline(&root, "whole", &model, no_sweep);
    // One step per invocation: the limit is checked between steps and the first always runs.
    let sliced = pipeline(&root, "sliced", &model, |t| {
        no_sweep(t).replace("  checkpoint_interval = 2\n", "  max_time = 1ms\n")
    });
    let out = lpipe(&root, &["run", "--quiet"], &whole);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut invocations = 0;
    loop {
        let out = lpipe(&root, &["run", "--quiet"], &sliced);
        invocations += 1;
        match out.status.code() {
            Some(0) => break,
            Some(75) => assert!(
                stderr(&out).contains("max_time reached after step"),
                "{}",
                stderr(&out)
            ),
            other => panic!("exit {other:?}: {}", stderr(&out)),
        }
        assert!(invocations < 10, "no end in sight");
    }
    // max_iters 3, one micro-batch per step: three optimizer steps, three invocations.
    assert_eq!(invocations, 3);
    assert_eq!(
        adapter_bytes(&root.join("runs/sliced/sliced")),
        adapter_bytes(&root.join("runs/whole/whole"))
    );
}

#[test]
fn log_interval_paces_the_progress_lines() {
    let root = scratch("keys-log");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = pipeline(&root, "logged", &model, |t| {
        no_sweep(t).replace("  max_iters = 3\n", "  max_iters = 5\n  log_interval = 2\n")
    });
    let out = lpipe(&root, &["run", "--quiet"], &file);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let steps: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("lpipe: step "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    // Every second step, and the last.
    assert_eq!(steps, ["2/5", "4/5", "5/5"], "{err}");
    assert!(err.contains("tok/s, eta "), "{err}");
}

#[test]
fn lora_init_peft_starts_from_that_adapter() {
    let root = scratch("keys-peft");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let first = pipeline(&root, "first", &model, no_sweep);
    let out = lpipe(&root, &["run", "--quiet"], &first);
    assert!(out.status.success(), "{}", stderr(&out));
    let trained = root.join("runs/first/first/adapter");
    // Continue from it with a learning rate too small to move an f32 weight: the result is the
    // adapter that was loaded, not a fresh initialisation.
    let init = format!(
        "  dropout = 0.0\n  init = peft(\"{}\")\n",
        trained.display()
    );
    let tiny_lr = |t: String| {
        t.replace("  dropout = 0.0\n", &init)
            .replace("adamw(lr = 1e-3, weight_decay = 0.0)", "sgd(lr = 1e-30)")
    };
    let cont = pipeline(&root, "cont", &model, |t| tiny_lr(no_sweep(t)));
    let out = lpipe(&root, &["run", "--quiet"], &cont);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = lpipe::train::Adapter::load(&trained).unwrap();
    let b = lpipe::train::Adapter::load(&root.join("runs/cont/cont/adapter")).unwrap();
    assert!(
        a.tensors == b.tensors,
        "the run did not start from the PEFT adapter"
    );
    // The same run without `init` starts elsewhere (B = 0, A random).
    let fresh = pipeline(&root, "fresh", &model, |t| {
        no_sweep(t).replace("adamw(lr = 1e-3, weight_decay = 0.0)", "sgd(lr = 1e-30)")
    });
    let out = lpipe(&root, &["run", "--quiet"], &fresh);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = lpipe::train::Adapter::load(&root.join("runs/fresh/fresh/adapter")).unwrap();
    assert!(
        a.tensors != c.tensors,
        "a fresh init equals the trained adapter"
    );

    // An adapter of another rank is refused, naming what differs.
    let wrong = pipeline(&root, "wrong", &model, |t| {
        tiny_lr(no_sweep(t)).replace("  r = 2\n  alpha = 4\n", "  r = 4\n  alpha = 4\n")
    });
    let out = lpipe(&root, &["run", "--quiet"], &wrong);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let flat = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("lpipe::E801") && flat.contains("r = 2 (the lora block says 4)"),
        "{err}"
    );
}

/// An `after` edge orders the run even against the default order: an evaluation of the base
/// declared `after = [train]` runs once training is done (by default it runs before).
#[test]
fn after_edges_order_the_run() {
    let root = scratch("keys-after");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let order = |name: &str, after: &str| {
        let file = pipeline(&root, name, &model, |t| {
            no_sweep(t).replace(
                "  on = [adapter]\n",
                &format!("  on = [base, adapter]\n{after}"),
            )
        });
        let out = lpipe(&root, &["run", "--quiet"], &file);
        let log = stderr(&out);
        assert!(out.status.success(), "{log}");
        let at = |what: &str| {
            log.find(what)
                .unwrap_or_else(|| panic!("no `{what}`: {log}"))
        };
        (at("lpipe: eval on base: done"), at("lpipe: train: 3 steps"))
    };
    let (base, train) = order("default-order", "");
    assert!(
        base < train,
        "by default the base is evaluated before training"
    );
    let (base, train) = order("base-after-train", "  after = [train]\n");
    assert!(
        base > train,
        "`after = [train]` moves the base evaluation after training"
    );
}

/// A second `lpipe run` of a run another process is running is refused (E805, naming the
/// holder) and writes nothing there; once the holder lets go, the same command runs.
#[test]
fn a_run_in_progress_elsewhere_is_refused() {
    let root = scratch("keys-lock");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = pipeline(&root, "locked", &model, no_sweep);
    let run_dir = root.join("runs/locked/locked");
    std::fs::create_dir_all(&run_dir).unwrap();
    let lock = std::fs::File::create(run_dir.join(".lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(run_dir.join(".lock"), "pid 4242 on node7 since 0").unwrap();
    let out = lpipe(&root, &["run", "--quiet"], &file);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("lpipe::E805") && err.contains("pid 4242 on node7"),
        "{err}"
    );
    assert!(
        !run_dir.join("metrics.jsonl").exists(),
        "the refused run wrote metrics"
    );
    drop(lock);
    let out = lpipe(&root, &["run", "--quiet"], &file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run_dir.join("summary.json").is_file());
}

/// A metrics line that cannot be written is said (once), and training still finishes.
#[test]
fn an_unwritable_metrics_log_is_reported_not_ignored() {
    let root = scratch("keys-metrics");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = pipeline(&root, "nometrics", &model, no_sweep);
    let run_dir = root.join("runs/nometrics/nometrics");
    // A directory where the file should be: every append fails with EISDIR.
    std::fs::create_dir_all(run_dir.join("metrics.jsonl")).unwrap();
    let out = lpipe(&root, &["run", "--quiet"], &file);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("cannot append to").count(), 1, "{err}");
    assert!(run_dir.join("adapter/adapter_model.safetensors").is_file());
}

/// A checkpoint damaged on disk after it was written: the resume says so, continues from the one
/// before it, and still ends bit-identical to an uninterrupted run.
#[test]
fn a_damaged_checkpoint_falls_back_to_the_previous_one() {
    let root = scratch("keys-bad-ckpt");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let whole = pipeline(&root, "whole", &model, no_sweep);
    let sliced = pipeline(&root, "sliced", &model, |t| {
        no_sweep(t).replace("  checkpoint_interval = 2\n", "  max_time = 1ms\n")
    });
    assert!(lpipe(&root, &["run", "--quiet"], &whole).status.success());
    // Two invocations: checkpoints after steps 1 and 2.
    for _ in 0..2 {
        let out = lpipe(&root, &["run", "--quiet"], &sliced);
        assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    }
    let newest = root.join("runs/sliced/sliced/checkpoints/step-00000002/optimizer.safetensors");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let mut warned = false;
    for _ in 0..3 {
        let out = lpipe(&root, &["run", "--quiet"], &sliced);
        warned |= stderr(&out).contains("step-00000002 is unreadable");
        if out.status.code() == Some(0) {
            break;
        }
        assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    }
    assert!(warned, "the fallback was not said");
    assert_eq!(
        adapter_bytes(&root.join("runs/sliced/sliced")),
        adapter_bytes(&root.join("runs/whole/whole"))
    );
}
