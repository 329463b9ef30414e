//! LoRA forward, merge and gradients against PEFT 0.21 on the tiny Llama in
//! ../shared/golden/lora_step (f32, eager attention, dropout 0).
//!
//! Tolerances: logits 2e-5 abs (|logits| < 1, f32, two layers, summation order differs);
//! merged weight 1e-6 (one rank-4 product and an add); gradients 1e-4 relative to each
//! tensor's max-abs (f32 backward through two layers and a 256-way softmax).

use std::path::PathBuf;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lpipe::model::safetensors::SafetensorsFile;
use lpipe::nn::init::InitOptions;
use lpipe::nn::{Llama, LlamaConfig};
use lpipe::train::llama::LlamaLora;
use lpipe::train::model::adapter_of;

fn golden_dir() -> Option<PathBuf> {
    let shared = lpipe::testing::shared()?;
    Some(shared.join("golden/lora_step"))
}

fn tiny_config() -> LlamaConfig {
    LlamaConfig::new(256, 64, 128, 2, 4, 2, 16)
        .with_rope_theta(10_000.0)
        .with_rms_norm_eps(1e-5)
        .with_max_seq_len(128)
        .with_tie_word_embeddings(false)
}

fn load(dir: &std::path::Path, device: &Device) -> Llama {
    let base = SafetensorsFile::open(&dir.join("base_model.safetensors")).unwrap();
    let options = InitOptions { native_gqa: false };
    let model = tiny_config()
        .init_from(&base, options, &Device::flex())
        .unwrap();
    LlamaLora::from_peft(model, &dir.join("peft_adapter_init"), device)
        .unwrap()
        .model
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn batch(golden: &SafetensorsFile, device: &Device) -> (Tensor<2, Int>, Vec<i64>) {
    let (_, raw) = golden.raw("batch.input_ids").unwrap();
    let ids: Vec<i64> = raw
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let (_, raw) = golden.raw("batch.labels").unwrap();
    let labels = raw
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (
        Tensor::from_data(TensorData::new(ids, [2, 12]), device),
        labels,
    )
}

#[test]
fn lora_forward_and_merge_match_peft() {
    // `from_peft` builds fresh adapters first, drawing from the backend's generator.
    let _lock = crate::support::global_lock();
    let Some(dir) = golden_dir() else { return };
    let golden = SafetensorsFile::open(&dir.join("lora_step.safetensors")).unwrap();
    let device = Device::flex();
    let model = load(&dir, &device);
    assert_eq!(model.lora_adapters().len(), 4);
    let (ids, _) = batch(&golden, &device);
    let logits = to_vec(model.forward(ids.clone()));
    let want = golden.to_f32("logits_before", Some(&[2, 12, 256])).unwrap();
    let diff = max_abs_diff(&logits, &want);
    assert!(diff < 2e-5, "logits: {diff}");

    let names: Vec<String> = model.lora_tensors().into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight".into())
    );

    let merged = model.merge_lora();
    assert!(merged.lora_adapters().is_empty());
    let q = merged.layers[0].self_attn.q_proj.weight.dense().transpose();
    let want = golden
        .to_f32(
            "merged_init.model.layers.0.self_attn.q_proj.weight",
            Some(&[64, 64]),
        )
        .unwrap();
    let diff = max_abs_diff(&to_vec(q), &want);
    assert!(diff < 1e-6, "merged q_proj: {diff}");
    let diff = max_abs_diff(&to_vec(merged.forward(ids)), &logits);
    assert!(diff < 2e-5, "merged forward: {diff}");
}

#[test]
fn lora_gradients_match_peft_and_base_stays_frozen() {
    let _lock = crate::support::global_lock();
    let Some(dir) = golden_dir() else { return };
    let golden = SafetensorsFile::open(&dir.join("lora_step.safetensors")).unwrap();
    let device = Device::flex().autodiff();
    let model = load(&dir, &device);
    let (ids, labels) = batch(&golden, &Device::flex());
    let logits = model.forward(ids);
    // HF causal-LM loss: position t predicts labels[t+1]; -100 is ignored.
    let [b, s, v] = logits.dims();
    let logp = log_softmax(logits.narrow(1, 0, s - 1), 2).reshape([b * (s - 1), v]);
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for r in 0..b {
        for t in 0..s - 1 {
            let l = labels[r * s + t + 1];
            if l >= 0 {
                rows.push((r * (s - 1) + t) as i64);
                targets.push(l);
            }
        }
    }
    let n = rows.len();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device);
    let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [n, 1]), &device);
    let loss = logp.select(0, rows).gather(1, targets).mean().neg();
    let grads = loss.backward();
    assert!(
        model.embed_tokens.grad(&grads).is_none(),
        "base weights must not be tracked"
    );
    for (path, lora) in model.lora_adapters() {
        for (which, param) in [("lora_A", &lora.a), ("lora_B", &lora.b)] {
            let name = format!("grad_step1.{path}.{which}.weight");
            let want = golden.to_f32(&name, None).unwrap();
            let got = to_vec(param.val().grad(&grads).expect("LoRA grad"));
            let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let diff = max_abs_diff(&got, &want);
            assert!(diff <= 1e-4 * scale, "{name}: {diff} (scale {scale})");
        }
    }
}

#[test]
fn saved_adapters_reload_identically_and_bad_configs_are_diagnosed() {
    use miette::Diagnostic;

    let _lock = crate::support::global_lock();
    let Some(dir) = golden_dir() else { return };
    let device = Device::flex();
    let base = SafetensorsFile::open(&dir.join("base_model.safetensors")).unwrap();
    let fresh = || {
        tiny_config()
            .init_from(&base, InitOptions { native_gqa: false }, &device)
            .unwrap()
    };
    let init = dir.join("peft_adapter_init");
    let model = LlamaLora::from_peft(fresh(), &init, &device).unwrap();
    let out = lpipe::testing::scratch("adapter");
    adapter_of(&model).unwrap().save(&out).unwrap();
    let reloaded = LlamaLora::from_peft(fresh(), &out, &device).unwrap();
    for ((n1, t1), (n2, t2)) in model
        .model
        .lora_tensors()
        .into_iter()
        .zip(reloaded.model.lora_tensors())
    {
        assert_eq!(n1, n2);
        assert_eq!(to_vec(t1), to_vec(t2), "{n1}");
    }
    // PEFT's own file and ours hold the same tensors under the same names.
    let peft = SafetensorsFile::open(&init.join("adapter_model.safetensors")).unwrap();
    let ours = SafetensorsFile::open(&out.join("adapter_model.safetensors")).unwrap();
    let (mut a, mut b) = (peft.names(), ours.names());
    a.sort();
    b.sort();
    assert_eq!(a, b);

    let text = std::fs::read_to_string(init.join("adapter_config.json")).unwrap();
    for (bad, what) in [
        (
            text.replace("\"lora_dropout\": 0.0", "\"lora_dropout\": 1.5"),
            "lora_dropout",
        ),
        (
            text.replace("\"use_dora\": false", "\"use_dora\": true"),
            "use_dora",
        ),
    ] {
        assert_ne!(bad, text, "the golden config spells `{what}` as expected");
        std::fs::write(out.join("adapter_config.json"), bad).unwrap();
        let Err(e) = LlamaLora::from_peft(fresh(), &out, &device) else {
            panic!("a config with a bad `{what}` was accepted");
        };
        assert!(
            e.code().unwrap().to_string().starts_with("lpipe::E7"),
            "{e}"
        );
        assert!(format!("{e}{e:?}").contains(what), "{e:?}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
