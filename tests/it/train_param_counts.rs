//! Trainable LoRA parameters of the models lpipe trains (the tensors the optimizer updates)
//! equal PEFT's `get_nb_trainable_parameters()` in ../shared/golden/param_counts (exact).

use burn::tensor::Device;
use lpipe::model::safetensors::SafetensorsFile;
use lpipe::nn::init::InitOptions;
use lpipe::nn::{Llama, LlamaConfig};
use lpipe::train::llama::LlamaLora;
use lpipe::train::{AdapterConfig, LoraModel};

/// (case name, r, target modules, PEFT's trainable parameter count)
type Case = (String, usize, Vec<String>, u64);

fn cases(model: &str) -> Option<Vec<Case>> {
    let shared = lpipe::testing::shared()?;
    let text =
        std::fs::read_to_string(shared.join("golden/param_counts/param_counts.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let lora = v["models"][model]["lora"]
        .as_object()
        .unwrap_or_else(|| panic!("param_counts.json has no {model} LoRA cases"));
    Some(
        lora.iter()
            .map(|(name, c)| {
                let targets = c["target_modules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect();
                (
                    name.clone(),
                    c["r"].as_u64().unwrap() as usize,
                    targets,
                    c["trainable_params"].as_u64().unwrap(),
                )
            })
            .collect(),
    )
}

fn check(model: &str, load: impl Fn() -> Llama) {
    let Some(cases) = cases(model) else { return };
    assert!(!cases.is_empty());
    let device = Device::flex().autodiff();
    for (name, r, targets, want) in cases {
        let cfg = AdapterConfig {
            r,
            lora_alpha: 2.0 * r as f64,
            lora_dropout: 0.0,
            target_modules: targets,
            use_rslora: false,
            base_model_name_or_path: None,
        };
        let m = LlamaLora::new(load(), cfg, &device).unwrap();
        let got: u64 = m
            .lora_tensors()
            .iter()
            .map(|(_, t)| t.dims().iter().product::<usize>() as u64)
            .sum();
        assert_eq!(got, want, "{model} {name}");
    }
}

#[test]
fn tiny_llama_trainable_counts_match_peft() {
    // LoRA init draws from the backend's generator, process-wide.
    let _lock = crate::support::global_lock();
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let path = shared.join("golden/lora_step/base_model.safetensors");
    check("tiny_lora_step", || {
        LlamaConfig::new(256, 64, 128, 2, 4, 2, 16)
            .with_max_seq_len(128)
            .with_tie_word_embeddings(false)
            .init_from(
                &SafetensorsFile::open(&path).unwrap(),
                InitOptions { native_gqa: false },
                &Device::flex(),
            )
            .unwrap()
    });
}

#[test]
fn smollm2_trainable_counts_match_peft() {
    let _lock = crate::support::global_lock();
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let loaded = lpipe::model::load(&gguf, &Device::flex()).unwrap();
    check("smollm2_135m", || loaded.model.clone());
}
