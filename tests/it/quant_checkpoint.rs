//! `lpipe quantize`'s checkpoint format: transformers' bitsandbytes 4-bit serialization, read back
//! by `read_quantized`. Byte expectations come from bitsandbytes 0.50.2 (`../shared/golden`) and
//! from `QuantState.as_dict(packed=True)` (key order, `json.dumps` separators, Python float repr).

use std::collections::HashMap;
use std::path::Path;

use lpipe::quant::serialize::{QuantizeOptions, quantize_checkpoint, read_quantized};
use lpipe::quant::{self, QuantError, QuantType};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_st(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| (n.to_string(), s.clone(), f32_bytes(v)))
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn ramp(n: usize, seed: f32) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.37 + seed).sin() * 0.05)
        .collect()
}

fn opts(qt: QuantType, dq: bool) -> QuantizeOptions {
    QuantizeOptions {
        quant_type: qt,
        double_quant: dq,
        block_size: 64,
        skip: vec![],
        force: false,
    }
}

const Q: &str = "model.layers.0.self_attn.q_proj.weight";

fn tiny_model() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    vec![
        ("model.embed_tokens.weight", vec![10, 96], ramp(960, 1.0)),
        (Q, vec![96, 96], ramp(96 * 96, 2.0)),
        (
            "model.layers.0.mlp.down_proj.weight",
            vec![96, 100],
            ramp(9600, 3.0),
        ),
        (
            "model.layers.0.input_layernorm.weight",
            vec![96],
            ramp(96, 4.0),
        ),
        ("model.norm.weight", vec![96], ramp(96, 5.0)),
        ("lm_head.weight", vec![10, 96], ramp(960, 6.0)),
    ]
}

#[test]
fn file_round_trip_keeps_plain_tensors_and_reads_back_identical_4bit_weights() {
    let dir = tempdir("file");
    let input = dir.join("in.safetensors");
    let output = dir.join("out.safetensors");
    let model = tiny_model();
    write_st(&input, &model);
    let summary = quantize_checkpoint(&input, &output, &opts(QuantType::Nf4, true)).unwrap();
    assert_eq!((summary.quantized, summary.kept), (2, 4));

    let raw = std::fs::read(&output).unwrap();
    let st = SafeTensors::deserialize(&raw).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&raw).unwrap();
    assert_eq!(
        meta.metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
    for (name, _, data) in &model {
        if !name.contains("_proj") {
            assert_eq!(
                st.tensor(name).unwrap().data(),
                f32_bytes(data).as_slice(),
                "{name} copied"
            );
        }
    }
    let packed = st.tensor(Q).unwrap();
    assert_eq!(
        (packed.dtype(), packed.shape()),
        (Dtype::U8, &[96 * 96 / 2, 1][..])
    );
    let keys: Vec<String> = st
        .names()
        .into_iter()
        .filter(|k| k.starts_with(Q))
        .map(str::to_string)
        .collect();
    for suffix in [
        "absmax",
        "quant_map",
        "nested_absmax",
        "nested_quant_map",
        "quant_state.bitsandbytes__nf4",
    ] {
        assert!(
            keys.contains(&format!("{Q}.{suffix}")),
            "{suffix} missing: {keys:?}"
        );
    }
    assert_eq!(
        st.tensor(&format!("{Q}.absmax")).unwrap().dtype(),
        Dtype::U8
    );

    let back = read_quantized(&output).unwrap();
    assert_eq!(back.tensors.len(), 2);
    let direct = quant::quantize(Q, &model[1].2, &[96, 96], QuantType::Nf4, 64, true).unwrap();
    assert_eq!(back.tensors[Q], direct);
    assert!(back.owns(&format!("{Q}.nested_absmax")) && back.owns(Q));
    assert!(!back.owns("model.norm.weight"));
}

#[test]
fn quant_state_json_and_bytes_match_bitsandbytes() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let raw = std::fs::read(shared.join("golden/nf4_fp4/nf4_fp4.safetensors")).unwrap();
    let golden = SafeTensors::deserialize(&raw).unwrap();
    let x: Vec<f32> = golden
        .tensor("w256x128.input")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let dir = tempdir("golden");
    let (input, output) = (dir.join("in.safetensors"), dir.join("out.safetensors"));
    let name = "model.layers.3.mlp.up_proj.weight";
    write_st(&input, &[(name, vec![256, 128], x)]);
    quantize_checkpoint(&input, &output, &opts(QuantType::Nf4, true)).unwrap();
    let out = std::fs::read(&output).unwrap();
    let st = SafeTensors::deserialize(&out).unwrap();
    let state = st
        .tensor(&format!("{name}.quant_state.bitsandbytes__nf4"))
        .unwrap();
    // json.dumps(non_tensor_dict) in QuantState.as_dict(packed=True); offset from nf4_fp4.json.
    let want = r#"{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [256, 128], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 2.5916152000427246}"#;
    assert_eq!(std::str::from_utf8(state.data()).unwrap(), want);
    assert_eq!(
        st.tensor(name).unwrap().data(),
        golden.tensor("w256x128.nf4.dq.packed").unwrap().data()
    );
    assert_eq!(
        st.tensor(&format!("{name}.absmax")).unwrap().data(),
        golden.tensor("w256x128.nf4.dq.absmax_q").unwrap().data()
    );
    assert_eq!(
        st.tensor(&format!("{name}.nested_absmax")).unwrap().data(),
        golden
            .tensor("w256x128.nf4.dq.state2_absmax")
            .unwrap()
            .data()
    );
    assert_eq!(
        st.tensor(&format!("{name}.nested_quant_map"))
            .unwrap()
            .data(),
        golden.tensor("dynamic_code").unwrap().data()
    );
    assert_eq!(
        st.tensor(&format!("{name}.quant_map")).unwrap().data(),
        golden.tensor("nf4_code").unwrap().data()
    );
    let back = read_quantized(&output).unwrap();
    let dq = quant::dequantize_f32(&back.tensors[name]).unwrap();
    assert_eq!(
        f32_bytes(&dq),
        golden.tensor("w256x128.nf4.dq.dequant").unwrap().data()
    );
}

#[test]
fn hf_directory_gets_shards_index_config_and_side_files() {
    let dir = tempdir("hf");
    let input = dir.join("model");
    std::fs::create_dir_all(&input).unwrap();
    let model = tiny_model();
    write_st(&input.join("model-00001-of-00002.safetensors"), &model[..3]);
    write_st(&input.join("model-00002-of-00002.safetensors"), &model[3..]);
    let mut map = serde_json::Map::new();
    for (i, (name, _, _)) in model.iter().enumerate() {
        let shard = if i < 3 { 1 } else { 2 };
        map.insert(
            name.to_string(),
            format!("model-0000{shard}-of-00002.safetensors").into(),
        );
    }
    let index = serde_json::json!({"metadata": {"total_size": 0}, "weight_map": map});
    std::fs::write(
        input.join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();
    std::fs::write(
        input.join("config.json"),
        r#"{"model_type": "llama", "hidden_size": 96}"#,
    )
    .unwrap();
    std::fs::write(input.join("tokenizer.json"), "{}").unwrap();
    std::fs::write(input.join("pytorch_model.bin"), "pickle").unwrap();

    let output = dir.join("out");
    let summary = quantize_checkpoint(&input, &output, &opts(QuantType::Fp4, false)).unwrap();
    assert_eq!(summary.quantized, 2);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(output.join("config.json")).unwrap())
            .unwrap();
    let qc = &config["quantization_config"];
    assert_eq!(qc["quant_method"], "bitsandbytes");
    assert_eq!(qc["bnb_4bit_quant_type"], "fp4");
    assert_eq!(qc["bnb_4bit_use_double_quant"], false);
    assert_eq!(config["model_type"], "llama");
    assert!(output.join("tokenizer.json").is_file());
    assert!(
        !output.join("pytorch_model.bin").exists(),
        "pickles are never copied"
    );
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(output.join("model.safetensors.index.json")).unwrap(),
    )
    .unwrap();
    let wm = index["weight_map"].as_object().unwrap();
    assert_eq!(
        wm[&format!("{Q}.quant_state.bitsandbytes__fp4")],
        "model-00001-of-00002.safetensors"
    );
    assert_eq!(wm["lm_head.weight"], "model-00002-of-00002.safetensors");
    let back = read_quantized(&output).unwrap();
    let names: Vec<&String> = back.tensors.keys().collect();
    assert_eq!(
        names,
        [
            &"model.layers.0.mlp.down_proj.weight".to_string(),
            &Q.to_string()
        ]
    );
    // No temporary files are left beside the output.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_requests_are_diagnostics_not_panics() {
    let dir = tempdir("bad");
    let input = dir.join("in.safetensors");
    write_st(&input, &tiny_model());
    let output = dir.join("out.safetensors");
    let mut o = opts(QuantType::Nf4, false);
    o.block_size = 48;
    assert!(matches!(
        quantize_checkpoint(&input, &output, &o),
        Err(QuantError::BadBlockSize { block_size: 48 })
    ));
    std::fs::write(&output, "existing").unwrap();
    let err = quantize_checkpoint(&input, &output, &opts(QuantType::Nf4, false)).unwrap_err();
    assert!(matches!(err, QuantError::Write { .. }), "{err:?}");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "existing",
        "never clobbered without --force"
    );
    let missing = quantize_checkpoint(
        &dir.join("nope.safetensors"),
        &dir.join("x"),
        &opts(QuantType::Nf4, false),
    );
    assert!(matches!(missing, Err(QuantError::Read { .. })));
    std::fs::write(dir.join("garbage.safetensors"), "not a safetensors file").unwrap();
    let garbage = read_quantized(&dir.join("garbage.safetensors"));
    assert!(matches!(garbage, Err(QuantError::Read { .. })));
    let mut nan = tiny_model();
    nan[1].2[77] = f32::NAN;
    write_st(&dir.join("nan.safetensors"), &nan);
    let err = quantize_checkpoint(
        &dir.join("nan.safetensors"),
        &dir.join("nan-out.safetensors"),
        &opts(QuantType::Nf4, false),
    );
    assert!(
        matches!(err, Err(QuantError::NonFinite { index: 77, .. })),
        "{err:?}"
    );
}

#[test]
fn truncated_statistics_are_reported() {
    let dir = tempdir("trunc");
    let input = dir.join("in.safetensors");
    write_st(&input, &tiny_model());
    let output = dir.join("out.safetensors");
    quantize_checkpoint(&input, &output, &opts(QuantType::Nf4, false)).unwrap();
    // Rewrite the file with one absmax value dropped.
    let raw = std::fs::read(&output).unwrap();
    let st = SafeTensors::deserialize(&raw).unwrap();
    let mut tensors: HashMap<String, (Dtype, Vec<usize>, Vec<u8>)> = HashMap::new();
    for (name, view) in st.tensors() {
        let mut data = view.data().to_vec();
        let mut shape = view.shape().to_vec();
        if name == format!("{Q}.absmax") {
            data.truncate(data.len() - 4);
            shape[0] -= 1;
        }
        tensors.insert(name, (view.dtype(), shape, data));
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let bad = dir.join("bad.safetensors");
    safetensors::serialize_to_file(views, None, &bad).unwrap();
    let err = read_quantized(&bad).unwrap_err();
    assert!(matches!(err, QuantError::Inconsistent { .. }), "{err:?}");
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    lpipe::testing::scratch(&format!("quant-{tag}"))
}
