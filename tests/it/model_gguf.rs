//! The GGUF reader against the real SmolLM2 file and the table the `gguf` Python package read
//! from it (../shared/golden/gguf_smollm2/metadata.json).

use std::io::Read;

use lpipe::model::gguf::GgufFile;
use serde_json::Value;

fn golden() -> Option<Value> {
    let dir = lpipe::testing::shared()?;
    let text = std::fs::read_to_string(dir.join("golden/gguf_smollm2/metadata.json")).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn tensor_table_and_metadata_match_gguf_py() {
    let Some(path) = lpipe::testing::smollm2() else {
        return;
    };
    let Some(meta) = golden() else { return };
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.version() as u64, meta["gguf_version"].as_u64().unwrap());
    let tensors = meta["tensors"].as_array().unwrap();
    assert_eq!(f.tensors().len(), tensors.len());
    for (ours, theirs) in f.tensors().iter().zip(tensors) {
        assert_eq!(ours.name, theirs["name"].as_str().unwrap());
        let shape: Vec<usize> = serde_json::from_value(theirs["shape_row_major"].clone()).unwrap();
        assert_eq!(ours.shape(), shape, "{}", ours.name);
        assert_eq!(ours.ty.to_string(), theirs["type"].as_str().unwrap());
        assert_eq!(ours.ty.id() as u64, theirs["type_id"].as_u64().unwrap());
        assert_eq!(ours.n_bytes(), theirs["n_bytes"].as_u64());
        // gguf-py reports absolute file offsets.
        assert_eq!(
            f.data_offset() + ours.offset,
            theirs["data_offset"].as_u64().unwrap(),
            "{}",
            ours.name
        );
    }
    let kv = &meta["all_kv_except_big_arrays"];
    for (key, entry) in kv.as_object().unwrap() {
        if key.starts_with("GGUF.") {
            continue;
        }
        let value = &entry["value"];
        let types: Vec<&str> = entry["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        match types.as_slice() {
            ["STRING"] => assert_eq!(f.get_str(key).unwrap(), value.as_str().unwrap()),
            ["UINT32"] | ["INT32"] | ["UINT64"] => {
                assert_eq!(f.get_u64(key).unwrap(), value.as_u64().unwrap(), "{key}")
            }
            ["FLOAT32"] => assert_eq!(f.get_f32(key).unwrap() as f64, value.as_f64().unwrap()),
            ["BOOL"] => assert_eq!(f.get_bool(key).unwrap(), value.as_bool().unwrap()),
            ["ARRAY", "STRING"] => {
                let want: Vec<String> = serde_json::from_value(value.clone()).unwrap();
                assert_eq!(f.get_str_array(key).unwrap(), want.as_slice());
            }
            other => panic!("untested type {other:?} for {key}"),
        }
    }
    for (key, entry) in meta["big_arrays"].as_object().unwrap() {
        let len = entry["len"].as_u64().unwrap() as usize;
        let first: Vec<Value> = serde_json::from_value(entry["first_10"].clone()).unwrap();
        match f.get_array(key).unwrap() {
            lpipe::model::gguf::GgufArray::Str(v) => {
                assert_eq!(v.len(), len);
                for (a, b) in v.iter().zip(&first) {
                    assert_eq!(a, b.as_str().unwrap());
                }
            }
            lpipe::model::gguf::GgufArray::I32(v) => {
                assert_eq!(v.len(), len);
                for (a, b) in v.iter().zip(&first) {
                    assert_eq!(*a as i64, b.as_i64().unwrap());
                }
            }
            other => panic!("{key}: unexpected {}", other.element_type_name()),
        }
    }
}

#[test]
fn truncated_real_file_names_file_and_tensor() {
    let Some(path) = lpipe::testing::smollm2() else {
        return;
    };
    let f = GgufFile::open(&path).unwrap();
    let head_len = f.data_offset() as usize + 4096;
    let mut head = vec![0u8; head_len];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    // Cuts inside the metadata (vocabulary, merges), the tensor table, and the data.
    let step = head_len / 97;
    for len in (0..head_len).step_by(step).chain([head_len]) {
        let e = GgufFile::from_bytes("cut.gguf", head[..len].to_vec()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cut.gguf"), "{len}: {msg}");
        if len >= f.data_offset() as usize {
            assert!(msg.contains("tensor `"), "{len}: {msg}");
        }
    }
}

#[test]
fn config_from_metadata_matches_transformers() {
    let Some(path) = lpipe::testing::smollm2() else {
        return;
    };
    // forward.json model_config: transformers' LlamaConfig built from the same file.
    let c = lpipe::model::read_config(&path).unwrap();
    assert_eq!(
        (
            c.vocab_size,
            c.hidden_size,
            c.intermediate_size,
            c.num_layers
        ),
        (49152, 576, 1536, 30)
    );
    assert_eq!((c.num_heads, c.num_kv_heads, c.head_dim), (9, 3, 64));
    assert_eq!(c.rope_theta, 100000.0);
    assert_eq!(c.rms_norm_eps as f32, 1e-5);
    assert!(c.tie_word_embeddings);
    assert_eq!(c.max_seq_len, 8192);
    // ../shared/golden/param_counts/param_counts.json: smollm2_135m total_params.
    assert_eq!(c.num_params(), 134_515_008);
}
