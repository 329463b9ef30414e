//! Acceptance: one LoRA + AdamW step (and a second) on the tiny Llama of
//! ../shared/golden/lora_step, against PyTorch 2.15 + PEFT 0.21 (scripts/gen_lora_step.py).
//!
//! From base_model.safetensors, the recorded LoRA init and batch: the loss before each step,
//! every LoRA gradient, and the parameters and AdamW moments after steps 1 and 2 must agree
//! within 1e-5 relative (the acceptance tolerance). Elements are compared relative to the
//! tensor's largest magnitude: an element-wise relative test is meaningless for entries that
//! are themselves rounding noise (f32 sums over 64-wide dot products and a 256-way softmax).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use lpipe::model::safetensors::SafetensorsFile;
use lpipe::nn::LlamaConfig;
use lpipe::nn::init::InitOptions;
use lpipe::train::adapter::WEIGHTS_FILE;
use lpipe::train::batch::collate;
use lpipe::train::llama::LlamaLora;
use lpipe::train::model::{adapter_of, load_adapter_into};
use lpipe::train::optim::{AdamWConfig, Optimizer, OptimizerConfig};
use lpipe::train::step::{LossNorm, accumulate_grads, apply_update};
use lpipe::train::tensors::{NamedTensors, read_mixed};
use lpipe::train::{Adapter, AdapterConfig, Example, LoraModel};

const REL: f32 = 1e-5;

fn golden_dir() -> Option<PathBuf> {
    let shared = lpipe::testing::shared()?;
    Some(shared.join("golden/lora_step"))
}

fn adapter_config() -> AdapterConfig {
    AdapterConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.0,
        target_modules: vec!["q_proj".into(), "v_proj".into()],
        use_rslora: false,
        base_model_name_or_path: None,
    }
}

fn tiny_model(dir: &Path, device: &Device) -> LlamaLora {
    let base = SafetensorsFile::open(&dir.join("base_model.safetensors")).unwrap();
    let llama = LlamaConfig::new(256, 64, 128, 2, 4, 2, 16)
        .with_rope_theta(10_000.0)
        .with_rms_norm_eps(1e-5)
        .with_max_seq_len(128)
        .with_tie_word_embeddings(false)
        .init_from(&base, InitOptions { native_gqa: false }, &Device::flex())
        .unwrap();
    LlamaLora::new(llama, adapter_config(), device).unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    crate::support::train::assert_close_scaled(got, want, REL, what);
}

/// The golden batch: two rows of 12 tokens, their first four labels masked.
fn golden_batch(ints: &lpipe::train::tensors::IntTensors) -> Vec<Example> {
    let (_, ids) = &ints["batch.input_ids"];
    let (_, labels) = &ints["batch.labels"];
    (0..2)
        .map(|r| Example {
            input_ids: ids[r * 12..(r + 1) * 12]
                .iter()
                .map(|&t| t as u32)
                .collect(),
            labels: labels[r * 12..(r + 1) * 12].to_vec(),
        })
        .collect()
}

fn host(model: &LlamaLora) -> NamedTensors {
    adapter_of(model).unwrap().tensors
}

#[test]
fn lora_adamw_steps_match_torch_and_peft() {
    // LoRA init draws from the backend's generator, process-wide.
    let _lock = crate::support::global_lock();
    let Some(dir) = golden_dir() else { return };
    let (g, ints) = read_mixed(&dir.join("lora_step.safetensors")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lora_step.json")).unwrap())
            .unwrap();
    let scalars = &json["scalars"];
    let device = Device::flex().autodiff();
    let mut model = tiny_model(&dir, &device);

    // 1. the recorded LoRA init, loaded by PEFT name
    let init = Adapter {
        config: adapter_config(),
        tensors: g
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("init.").map(|n| (n.to_string(), v.clone())))
            .collect(),
    };
    assert_eq!(init.tensors.len(), 8);
    load_adapter_into(&mut model, &init).unwrap();

    // 2. the adapter lpipe saves at init equals PEFT's peft_adapter_init, tensor by tensor
    let out = lpipe::testing::scratch("lora-step");
    adapter_of(&model).unwrap().save(&out).unwrap();
    let ours = Adapter::load(&out).unwrap();
    let peft = Adapter::load(&dir.join("peft_adapter_init")).unwrap();
    assert_eq!(ours.tensors, peft.tensors);
    assert_eq!(
        std::fs::read(out.join(WEIGHTS_FILE)).unwrap(),
        std::fs::read(dir.join("peft_adapter_init").join(WEIGHTS_FILE)).unwrap()
    );
    let _ = std::fs::remove_dir_all(&out);

    // 3. the batch: two rows of 12 tokens, first four labels masked
    let examples = golden_batch(&ints);
    let mb = collate(&examples.iter().collect::<Vec<_>>(), 0);
    assert_eq!(mb.n_targets, 16);

    // 4. two steps: loss, gradients, params and moments after each
    let mut opt = Optimizer::new(OptimizerConfig::AdamW(AdamWConfig::default()));
    for step in 1..=2 {
        let bg =
            accumulate_grads(&model, std::slice::from_ref(&mb), LossNorm::TokenMean, None).unwrap();
        let want_loss = scalars[format!("loss_before_step{step}")].as_f64().unwrap() as f32;
        assert!(
            (bg.loss - want_loss).abs() <= REL * want_loss,
            "loss before step {step}: {} vs {want_loss}",
            bg.loss
        );
        assert_eq!(bg.grads.len(), 8);
        for (name, grad) in &bg.grads {
            let got = grad.clone().try_into_vec_as::<f32>().unwrap();
            assert_close(
                &got,
                &g[&format!("grad_step{step}.{name}")].data,
                &format!("grad_step{step}.{name}"),
            );
        }
        apply_update(&mut model, &mut opt, bg.grads, 1e-3).unwrap();
        for (name, t) in host(&model) {
            assert_close(
                &t.data,
                &g[&format!("after_step{step}.{name}")].data,
                &format!("after_step{step}.{name}"),
            );
        }
        let (state, steps) = opt.state_tensors().unwrap();
        for (name, n) in steps {
            assert_eq!(n, step);
            for m in ["exp_avg", "exp_avg_sq"] {
                assert_close(
                    &state[&format!("{m}.{name}")].data,
                    &g[&format!("adam_{m}_step{step}.{name}")].data,
                    &format!("{m} step {step} {name}"),
                );
            }
        }
    }

    // 5. the loss after both steps (a forward without gradients)
    let after = lpipe::train::evaluate(&model, &examples, 2, 0)
        .unwrap()
        .unwrap();
    let want = scalars["loss_after_step2"].as_f64().unwrap() as f32;
    assert!(
        (after - want).abs() <= REL * want,
        "loss after step 2: {after} vs {want}"
    );
    assert_eq!(model.vocab_size(), 256);
}

/// `init = peft(dir)`: continuing PEFT's step-1 adapter puts exactly its tensors in the model;
/// from there the loss and every gradient equal PEFT's before its step 2 (1e-5, as above), and
/// one more AdamW step (fresh optimizer) lowers the loss on the batch.
#[test]
fn continues_a_peft_adapter() {
    let _lock = crate::support::global_lock();
    let Some(dir) = golden_dir() else { return };
    let device = Device::flex().autodiff();
    let base = tiny_model(&dir, &device).model;
    let mut model = LlamaLora::from_peft(base, &dir.join("peft_adapter_step1"), &device).unwrap();
    let want = Adapter::load(&dir.join("peft_adapter_step1")).unwrap();
    assert_eq!(adapter_of(&model).unwrap().tensors, want.tensors);
    assert_eq!(model.adapter_config(), want.config);

    let (g, ints) = read_mixed(&dir.join("lora_step.safetensors")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lora_step.json")).unwrap())
            .unwrap();
    let examples = golden_batch(&ints);
    let mb = collate(&examples.iter().collect::<Vec<_>>(), 0);
    let bg =
        accumulate_grads(&model, std::slice::from_ref(&mb), LossNorm::TokenMean, None).unwrap();
    let want_loss = json["scalars"]["loss_before_step2"].as_f64().unwrap() as f32;
    assert!(
        (bg.loss - want_loss).abs() <= REL * want_loss,
        "loss from PEFT's step-1 adapter: {} vs {want_loss}",
        bg.loss
    );
    assert_eq!(bg.grads.len(), 8);
    for (name, grad) in &bg.grads {
        let got = grad.clone().try_into_vec_as::<f32>().unwrap();
        assert_close(&got, &g[&format!("grad_step2.{name}")].data, name);
    }
    let mut opt = Optimizer::new(OptimizerConfig::AdamW(AdamWConfig::default()));
    apply_update(&mut model, &mut opt, bg.grads, 1e-3).unwrap();
    let after = lpipe::train::evaluate(&model, &examples, 2, 0)
        .unwrap()
        .unwrap();
    assert!(
        after < bg.loss,
        "no progress from the PEFT adapter: {} -> {after}",
        bg.loss
    );

    // a PEFT adapter for modules the model lacks is refused with a diagnostic
    let broken = lpipe::testing::scratch("peft-bad");
    let mut cfg = want.config.clone();
    cfg.target_modules = vec!["nonexistent_proj".into()];
    Adapter {
        config: cfg,
        tensors: want.tensors.clone(),
    }
    .save(&broken)
    .unwrap();
    let base = tiny_model(&dir, &device).model;
    assert!(LlamaLora::from_peft(base, &broken, &device).is_err());
    let _ = std::fs::remove_dir_all(&broken);
}
