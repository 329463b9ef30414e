use super::*;
use crate::train::tensors::{HostTensor, read_mixed, read_safetensors};
use std::path::PathBuf;

fn golden() -> Option<PathBuf> {
    crate::testing::shared().map(|s| s.join("golden/lora_step"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lpipe-adapter-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn golden_config() -> AdapterConfig {
    AdapterConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.0,
        target_modules: vec!["q_proj".into(), "v_proj".into()],
        use_rslora: false,
        base_model_name_or_path: None,
    }
}

/// PEFT 0.21.2's `adapter_config.json` for the golden LoRA, field for field (lpipe leaves out
/// only `peft_version`, which PEFT fills in itself).
#[test]
fn config_json_matches_peft() {
    let Some(dir) = golden() else { return };
    let text = std::fs::read_to_string(dir.join("peft_adapter_init/adapter_config.json")).unwrap();
    let mut want: serde_json::Value = serde_json::from_str(&text).unwrap();
    want.as_object_mut().unwrap().remove("peft_version");
    assert_eq!(golden_config().to_json(), want);
    let parsed = AdapterConfig::from_json_str(Path::new("x"), &text).unwrap();
    assert_eq!(parsed, golden_config());
    assert_eq!(parsed.scaling(), 2.0);
}

/// The adapter lpipe writes from the recorded LoRA init is PEFT's `peft_adapter_init`
/// tensor by tensor (names, shapes, bit-identical values) and byte for byte.
#[test]
fn saved_init_adapter_equals_peft_adapter_init() {
    let Some(dir) = golden() else { return };
    let g = read_mixed(&dir.join("lora_step.safetensors")).unwrap().0;
    let tensors: NamedTensors = g
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("init.").map(|n| (n.to_string(), v.clone())))
        .collect();
    let adapter = Adapter {
        config: golden_config(),
        tensors,
    };
    let out = scratch("init");
    adapter.save(&out).unwrap();
    let want = read_safetensors(&dir.join("peft_adapter_init").join(WEIGHTS_FILE)).unwrap();
    let got = read_safetensors(&out.join(WEIGHTS_FILE)).unwrap();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, w) in &want {
        assert_eq!(got[k].shape, w.shape, "{k}");
        let bits = |t: &HostTensor| t.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got[k]), bits(w), "{k}");
    }
    let want_bytes = std::fs::read(dir.join("peft_adapter_init").join(WEIGHTS_FILE)).unwrap();
    assert_eq!(std::fs::read(out.join(WEIGHTS_FILE)).unwrap(), want_bytes);
    // and it reads back to the same adapter
    assert_eq!(Adapter::load(&out).unwrap(), adapter);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn loads_peft_step1_adapter_with_short_names() {
    let Some(dir) = golden() else { return };
    let a = Adapter::load(&dir.join("peft_adapter_step1")).unwrap();
    assert_eq!(a.tensors.len(), 8);
    let g = read_mixed(&dir.join("lora_step.safetensors")).unwrap().0;
    for (k, v) in &a.tensors {
        assert_eq!(v, &g[&format!("after_step1.{k}")], "{k}");
    }
}

#[test]
fn rejects_unsupported_or_broken_configs() {
    let p = Path::new("adapter_config.json");
    for text in [
        "",
        "[]",
        r#"{"r": 0, "lora_alpha": 8, "target_modules": ["q_proj"]}"#,
        r#"{"r": 4, "lora_alpha": 8, "target_modules": ".*proj"}"#,
        r#"{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"], "use_dora": true}"#,
        r#"{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"], "rank_pattern": {"q": 2}}"#,
        r#"{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"], "peft_type": "IA3"}"#,
    ] {
        assert!(AdapterConfig::from_json_str(p, text).is_err(), "{text}");
    }
}

#[test]
fn validate_catches_rank_and_pairing_errors() {
    let mut t = NamedTensors::new();
    t.insert(
        "m.q_proj.lora_A.weight".into(),
        HostTensor::new(vec![4, 8], vec![0.0; 32]),
    );
    let mut a = Adapter {
        config: golden_config(),
        tensors: t,
    };
    assert!(a.validate().is_err(), "B missing");
    a.tensors.insert(
        "m.q_proj.lora_B.weight".into(),
        HostTensor::new(vec![8, 3], vec![0.0; 24]),
    );
    assert!(a.validate().is_err(), "B rank 3 != r");
    a.tensors.insert(
        "m.q_proj.lora_B.weight".into(),
        HostTensor::new(vec![8, 4], vec![0.0; 32]),
    );
    a.validate().unwrap();
}

#[test]
fn short_names_strip_prefix_and_adapter_name() {
    assert_eq!(
        short_name("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"),
        "model.layers.0.self_attn.q_proj.lora_A.weight"
    );
    assert_eq!(
        peft_key("model.layers.0.mlp.up_proj.lora_B.weight"),
        "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight"
    );
}
