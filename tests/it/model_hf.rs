//! HF directories: single and sharded safetensors (with the index), config.json, diagnostics.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use lpipe::model::safetensors::SafetensorsFile;
use miette::Diagnostic;
use safetensors::tensor::{Dtype, TensorView};

const CONFIG: &str = r#"{
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256,
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
  "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
  "rms_norm_eps": 1e-05, "max_position_embeddings": 128, "tie_word_embeddings": false,
  "hidden_act": "silu", "attention_bias": false, "mlp_bias": false
}"#;

fn base() -> Option<PathBuf> {
    let shared = lpipe::testing::shared()?;
    Some(shared.join("golden/lora_step/base_model.safetensors"))
}

fn temp(tag: &str) -> PathBuf {
    lpipe::testing::scratch(&format!("hf-{tag}"))
}

/// Writes `names` of `src` into `path` as an f32 safetensors file.
fn write_subset(src: &SafetensorsFile, names: &[String], path: &Path) {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = names
        .iter()
        .map(|n| {
            let v = src.to_f32(n, None).unwrap();
            (
                n.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                src.shape(n).unwrap(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, b, s)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

fn logits(dir: &Path) -> Vec<f32> {
    let device = Device::flex();
    let m = lpipe::model::load(dir, &device).unwrap();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 17, 42, 99], [1, 4]), &device);
    m.model.forward(ids).into_data().try_to_vec().unwrap()
}

#[test]
fn single_and_sharded_directories_load_identically() {
    let Some(base) = base() else { return };
    let src = SafetensorsFile::open(&base).unwrap();
    let mut names = src.names();
    names.sort();

    let single = temp("single");
    std::fs::write(single.join("config.json"), CONFIG).unwrap();
    write_subset(&src, &names, &single.join("model.safetensors"));

    let sharded = temp("sharded");
    std::fs::write(sharded.join("config.json"), CONFIG).unwrap();
    let (a, b) = names.split_at(names.len() / 2);
    write_subset(&src, a, &sharded.join("model-00001-of-00002.safetensors"));
    write_subset(&src, b, &sharded.join("model-00002-of-00002.safetensors"));
    let map: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let f = if i < a.len() { 1 } else { 2 };
            (
                n.clone(),
                format!("model-0000{f}-of-00002.safetensors").into(),
            )
        })
        .collect();
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(
        sharded.join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();

    let x = logits(&single);
    assert_eq!(x.len(), 4 * 256);
    assert_eq!(x, logits(&sharded));

    // A missing shard tensor names the tensor; a bad config lists every problem.
    std::fs::remove_file(sharded.join("model-00002-of-00002.safetensors")).unwrap();
    write_subset(
        &src,
        &b[1..],
        &sharded.join("model-00002-of-00002.safetensors"),
    );
    let e = lpipe::model::load(&sharded, &Device::flex()).unwrap_err();
    assert_eq!(e.code().unwrap().to_string(), "lpipe::E306");
    assert!(e.to_string().contains(&b[0]), "{e}");

    let bad = CONFIG
        .replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3")
        .replace("\"silu\"", "\"gelu\"");
    std::fs::write(single.join("config.json"), bad).unwrap();
    let e = lpipe::model::load(&single, &Device::flex()).unwrap_err();
    assert_eq!(e.code().unwrap().to_string(), "lpipe::E310");
    let msg = e.to_string();
    assert!(
        msg.contains("gelu") && msg.contains("num_kv_heads"),
        "{msg}"
    );
}

#[test]
fn directories_without_weights_are_diagnosed() {
    let empty = temp("empty");
    let e = lpipe::model::load(&empty, &Device::flex()).unwrap_err();
    assert_eq!(e.code().unwrap().to_string(), "lpipe::E313");
    std::fs::write(empty.join("config.json"), CONFIG).unwrap();
    std::fs::write(empty.join("pytorch_model.bin"), b"pickle").unwrap();
    let e = lpipe::model::load(&empty, &Device::flex()).unwrap_err();
    assert!(e.to_string().contains("pickled"), "{e}");
}

/// The GPU load path hands the stored bytes over unconverted: same bytes and dtype as the file,
/// the same values as the f32 path once converted, and the shape still checked.
#[test]
fn stored_tensors_keep_their_bytes_and_dtype() {
    let dir = temp("stored");
    let path = dir.join("w.safetensors");
    let values: Vec<f32> = (0..6 * 4).map(|i| (i as f32 - 11.5) * 0.37).collect();
    let bf: Vec<u8> = values
        .iter()
        .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
        .collect();
    let f32s: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    let views = vec![
        (
            "a".to_string(),
            TensorView::new(Dtype::BF16, vec![6, 4], &bf).unwrap(),
        ),
        (
            "b".to_string(),
            TensorView::new(Dtype::F32, vec![6, 4], &f32s).unwrap(),
        ),
    ];
    std::fs::write(&path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
    let file = SafetensorsFile::open(&path).unwrap();
    for (name, dtype, bytes) in [
        ("a", burn::tensor::DType::BF16, &bf),
        ("b", burn::tensor::DType::F32, &f32s),
    ] {
        let data = file.to_data(name, &[6, 4]).unwrap();
        assert_eq!(data.dtype(), dtype, "{name}");
        assert_eq!(data.as_bytes(), bytes.as_slice(), "{name}");
        let converted: Vec<f32> = data.convert::<f32>().try_to_vec::<f32>().unwrap();
        assert_eq!(converted, file.to_f32(name, None).unwrap(), "{name}");
    }
    let err = file.to_data("a", &[4, 6]).unwrap_err();
    assert_eq!(err.code().unwrap().to_string(), "lpipe::E309", "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
