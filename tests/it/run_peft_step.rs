//! `lora.init = peft(dir)` through `lpipe run`: one optimizer step from PEFT's initial adapter of
//! ../shared/golden/lora_step, on the golden batch (a `tokens(…)` dataset), equals PEFT's step 1
//! (`peft_adapter_step1`) within 1e-5 of each tensor's largest entry — the tolerance and
//! comparison tests/train_lora_step.rs uses for the same step through the API.

use lpipe::testing::{scratch, shared};
use lpipe::train::Adapter;
use lpipe::train::tensors::read_mixed;

use crate::support::train::assert_close_scaled as assert_close;

const REL: f32 = 1e-5;

#[test]
fn one_step_from_a_peft_adapter_matches_peft() {
    let Some(shared) = shared() else { return };
    let golden = shared.join("golden/lora_step");
    let root = scratch("peft-run");

    // The golden base in HF layout, with a 256-token tokenizer (the ids come pre-tokenized).
    let model = root.join("base");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        golden.join("base_model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden.join("lora_step.json")).unwrap())
            .unwrap();
    let mut config = json["model_config"].clone();
    config["model_type"] = "llama".into();
    config["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
    config["rope_theta"] = config["rope"]["rope_theta"].clone();
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    let vocab: serde_json::Map<String, serde_json::Value> =
        (0..256).map(|i| (format!("t{i}"), i.into())).collect();
    let tokenizer = serde_json::json!({"model": {"type": "BPE", "vocab": vocab, "merges": []}});
    std::fs::write(model.join("tokenizer.json"), tokenizer.to_string()).unwrap();

    // The golden batch as JSON lines.
    let (want, ints) = read_mixed(&golden.join("lora_step.safetensors")).unwrap();
    let (_, ids) = &ints["batch.input_ids"];
    let (_, labels) = &ints["batch.labels"];
    let lines: Vec<String> = (0..2)
        .map(|r| {
            serde_json::json!({
                "input_ids": &ids[r * 12..(r + 1) * 12],
                "labels": &labels[r * 12..(r + 1) * 12],
            })
            .to_string()
        })
        .collect();
    std::fs::write(root.join("batch.jsonl"), lines.join("\n") + "\n").unwrap();

    let file = root.join("peft.lpipe");
    let init = golden.join("peft_adapter_init");
    std::fs::write(
        &file,
        format!(
            "name = \"peft\"\nruns_dir = \"runs\"\n\
             dataset {{\n  source = tokens(\"batch.jsonl\")\n  val_split = 0\n}}\n\
             model {{\n  source = \"base\"\n}}\n\
             lora {{\n  r = 4\n  alpha = 8\n  dropout = 0.0\n  targets = [query, value]\n  \
             init = peft({init:?})\n}}\n\
             train {{\n  optimizer = adamw(lr = 1e-3, weight_decay = 0.01)\n  batch_size = 2\n  \
             max_iters = 1\n}}\n"
        ),
    )
    .unwrap();
    let out = crate::support::lpipe(&root, &["run", "--quiet"], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("lora: 1792 trainable parameters, loaded from"),
        "{stderr}"
    );

    let got = Adapter::load(&root.join("runs/peft/peft/adapter")).unwrap();
    let init = Adapter::load(&init).unwrap();
    assert_eq!(got.tensors.len(), 8);
    for (name, tensor) in &got.tensors {
        let want = &want[&format!("after_step1.{name}")].data;
        let start = &init.tensors[name].data;
        assert_close(&tensor.data, want, REL, name);
        // The step itself, to 1e-4 of its largest entry: the parameters alone would let a
        // missing weight decay (lr·wd·p ≈ 1e-6 here) slip under 1e-5 of their magnitude.
        let step = |p: &[f32]| -> Vec<f32> { p.iter().zip(start).map(|(a, b)| a - b).collect() };
        assert_close(
            &step(&tensor.data),
            &step(want),
            1e-4,
            &format!("{name} update"),
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}
