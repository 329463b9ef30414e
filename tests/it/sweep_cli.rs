//! `lpipe submit --dry-run` and `lpipe status` through the binary, without a cluster.

use std::process::Command;

use crate::support::sweep::{sweep_pipeline, write_tiny_llama};

fn lpipe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpipe"));
    cmd.env("NO_COLOR", "1")
        .env("LPIPE_CACHE_DIR", "/scratch/shared-cache");
    cmd
}

/// A checked 2×2 sweep (`r alpha.lpipe`, runs in `<root>/runs`) over a tiny model.
fn sweep_file(root: &std::path::Path) -> std::path::PathBuf {
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = root.join("r alpha.lpipe");
    std::fs::write(
        &file,
        sweep_pipeline("r alpha", &model, &root.join("runs"), "lora.alpha = [4, 8]"),
    )
    .unwrap();
    file
}

#[test]
fn dry_run_writes_the_array_script_and_status_reads_the_sweep() {
    let root = lpipe::testing::scratch("submit-cli");
    let file = sweep_file(&root);
    let names: Vec<String> = lpipe::check::check_file(&file, &["train.max_iters=2".into()])
        .pipeline
        .unwrap()
        .runs
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names.len(), 4);
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
            "--set",
            "train.max_iters=2",
        ])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(script.contains("#SBATCH --array=0-3\n"), "{script}");
    assert!(
        script.contains("#SBATCH --partition=gpu\n#SBATCH --gpus=1\n"),
        "{script}"
    );
    assert!(
        script.contains("export LPIPE_CACHE_DIR='/scratch/shared-cache'"),
        "{script}"
    );
    // The points are the checker's expansion, in `lpipe run --point K` order.
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    assert!(
        script.contains(&format!("points=({})\n", quoted.join(" "))),
        "{script}"
    );
    // Overrides reach every task, so each task's point K is the submitted point K.
    assert!(
        script.contains(&format!(
            "run '{}' --point \"$LPIPE_POINT\" '--set' 'train.max_iters=2' '--data-dir' ",
            file.display()
        )),
        "{script}"
    );
    let written = root.join("runs/r_alpha/slurm/array.sbatch");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), script);

    // One point finished locally, one still training: status from files only.
    let sweep = root.join("runs/r_alpha");
    std::fs::create_dir_all(sweep.join(&names[0])).unwrap();
    std::fs::write(
        sweep.join(&names[0]).join("summary.json"),
        r#"{"final_loss":1.25}"#,
    )
    .unwrap();
    std::fs::create_dir_all(sweep.join(&names[1])).unwrap();
    std::fs::write(
        sweep.join(&names[1]).join("metrics.jsonl"),
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

    // Given the pipeline file, status also lists the points that have not started.
    let out = lpipe()
        .args(["status", "--no-slurm"])
        .arg(&file)
        .args(["--set", "train.max_iters=2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 finished, 1 running, 2 pending, 0 failed"),
        "{text}"
    );
    for name in &names {
        assert!(text.contains(name.as_str()), "{text}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn usage_and_bad_options() {
    let out = lpipe().args(["submit", "x.lpipe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let root = lpipe::testing::scratch("submit-bad");
    sweep_file(&root);
    let out = lpipe()
        .current_dir(&root)
        .args([
            "submit",
            "r alpha.lpipe",
            "--slurm",
            "--dry-run",
            "--time",
            "4h",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lpipe::E786") && err.contains("4h"), "{err}");

    // A file that does not check is refused with the checker's diagnostics; nothing is written.
    std::fs::write(root.join("bad.lpipe"), "lora { r = -1 }\n").unwrap();
    let out = lpipe()
        .current_dir(&root)
        .args(["submit", "bad.lpipe", "--slurm", "--dry-run"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lpipe::E"), "{err}");
    assert!(!root.join("runs/bad").exists());

    let out = lpipe()
        .args(["status", "/nonexistent/sweep"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lpipe::E780"));
    std::fs::remove_dir_all(&root).unwrap();
}

/// Every shipped pipeline whose points run on a GPU asks Slurm for one per task without being
/// told (`--gpus-per-run` defaulted to 0 once, and every task would have failed), and the script
/// checks on the node that the binary and the pipeline are there.
#[test]
fn gpu_pipelines_request_gpus_from_slurm() {
    let root = lpipe::testing::scratch("submit-gpus");
    std::fs::create_dir_all(&root).unwrap();
    let mut gpu_pipelines = 0;
    for entry in std::fs::read_dir("pipelines").unwrap() {
        let file = std::path::absolute(entry.unwrap().path()).unwrap();
        if file.extension().is_none_or(|e| e != "lpipe") {
            continue;
        }
        let pipeline = lpipe::check::check_file(&file, &[]).pipeline.unwrap();
        let needed = lpipe::sweep::slurm::gpus_needed(&pipeline);
        let out = lpipe()
            .current_dir(&root)
            .args(["submit", "--slurm", "--dry-run"])
            .arg(&file)
            .output()
            .unwrap();
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let gpu = pipeline
            .runs
            .iter()
            .any(|r| r.config.model.device != lpipe::ir::Device::Cpu);
        assert_eq!(gpu, needed > 0, "{}", file.display());
        if gpu {
            gpu_pipelines += 1;
            assert!(
                script.contains(&format!("#SBATCH --gpus={needed}\n")),
                "{}: {script}",
                file.display()
            );
        } else {
            assert!(!script.contains("--gpus"), "{}: {script}", file.display());
        }
        assert!(
            script.contains(&format!(
                "for need in {}",
                lpipe::sweep::slurm::quote(env!("CARGO_BIN_EXE_lpipe"))
            )),
            "{script}"
        );
    }
    assert!(gpu_pipelines >= 8, "only {gpu_pipelines} GPU pipelines");
    // Asking for fewer than the device needs is allowed (some partitions hand GPUs out by
    // default) but said.
    let file = std::path::absolute("pipelines/qlora-nf4.lpipe").unwrap();
    let out = lpipe()
        .current_dir(&root)
        .args(["submit", "--slurm", "--dry-run", "--gpus-per-run", "0"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("--gpus"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("need 1 each"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).ok();
}
