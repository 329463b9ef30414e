//! The `export` stage of `lpipe run`: each run of a sweep writes its PEFT adapter (and with
//! `merge = true` the merged weights) to its own directory under the export path, equal to the run
//! directory's adapter, so the points of a sweep never overwrite one another.

use std::process::Command;

use crate::support::sweep::{scratch, sweep_pipeline, write_tiny_llama};

#[test]
fn each_point_exports_its_own_adapter_and_merged_weights() {
    let root = scratch("export");
    let model = write_tiny_llama(&root.join("tiny-llama"));
    let file = root.join("export.lpipe");
    let text = sweep_pipeline("export", &model, &root.join("runs"), "").replacen(
        "sweep {",
        "export {\n  path = \"out\"\n  merge = true\n}\n\nsweep {",
        1,
    );
    std::fs::write(&file, text).unwrap();
    let pipeline = lpipe::check::check_file(&file, &[])
        .pipeline
        .expect("the pipeline checks");
    assert_eq!(pipeline.runs.len(), 2);

    let out = crate::support::lpipe(&root, &["run", "--quiet"], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for run in &pipeline.runs {
        let exported = root.join("out").join(&run.name);
        let trained = root.join("runs/export").join(&run.name).join("adapter");
        for f in ["adapter_config.json", "adapter_model.safetensors"] {
            assert_eq!(
                std::fs::read(exported.join(f)).unwrap(),
                std::fs::read(trained.join(f)).unwrap(),
                "{}: {f}",
                run.name
            );
        }
        let merged = exported.join("merged/model.safetensors");
        let bytes = std::fs::read(&merged).unwrap();
        let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        // Merged weights carry base names only: no LoRA tensors left; the trained targets
        // (q_proj, v_proj) moved away from the base, the others did not.
        assert!(tensors.names().iter().all(|n| !n.contains("lora")));
        let base_bytes = std::fs::read(model.join("model.safetensors")).unwrap();
        let base = safetensors::SafeTensors::deserialize(&base_bytes).unwrap();
        for (name, changed) in [
            ("model.layers.0.self_attn.q_proj.weight", true),
            ("model.layers.1.self_attn.v_proj.weight", true),
            ("model.layers.0.self_attn.k_proj.weight", false),
            ("model.layers.1.mlp.down_proj.weight", false),
        ] {
            let a = tensors.tensor(name).unwrap();
            let b = base.tensor(name).unwrap();
            assert_eq!(a.shape(), b.shape(), "{name}");
            assert_eq!(a.data() != b.data(), changed, "{}: {name}", run.name);
        }
        assert!(exported.join("merged/config.json").is_file());
    }

    // `lpipe score` on base + adapter equals the merged checkpoint, and differs from the base.
    let run = &pipeline.runs[0];
    let adapter = root.join("out").join(&run.name);
    let score = |model: &std::path::Path, adapter: Option<&std::path::Path>| -> f64 {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lpipe"));
        cmd.args([
            "score",
            "--json",
            "--context",
            "What is 12 plus 7?",
            "--continuation",
            " 19",
        ])
        .arg("--model")
        .arg(model);
        if let Some(a) = adapter {
            cmd.arg("--adapter").arg(a);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        v["sum_logprob"].as_f64().expect("sum_logprob")
    };
    let base = score(&model, None);
    let with_adapter = score(&model, Some(&adapter));
    let merged = score(&adapter.join("merged"), None);
    // Merged equals base + adapter up to the f32 rounding of W + s·BA versus x·W + s·(x·A)·B
    // (measured 5e-8 on this two-layer model); the adapter itself must move the score by over a
    // hundred times the tolerance (measured 5.4e-3), so a merge with the scale wrong by any
    // factor other than 1 ± 0.01 fails (halving it: off by 2.7e-3).
    const TOL: f64 = 1e-5;
    assert!(
        (with_adapter - merged).abs() < TOL,
        "{with_adapter} vs {merged}"
    );
    assert!(
        (with_adapter - base).abs() > 100.0 * TOL,
        "the adapter barely moves the score ({base} -> {with_adapter}): the test cannot see a \
         wrong merge"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
