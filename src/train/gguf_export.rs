//! A llama.cpp GGUF model as a Hugging Face state dict (f32, HF names and q/k layout), so
//! `lpipe export --merge` can fold an adapter into the GGUF models lpipe trains on.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::Dtype;
use serde_json::{Value, json};

use super::error::TrainError;
use super::merge::RawTensor;
use crate::model::config::from_gguf;
use crate::model::gguf::GgufFile;
use crate::model::gguf_weights::GgufWeights;
use crate::nn::config::LlamaConfig;
use crate::nn::init::WeightSource;

fn model_err(e: crate::model::ModelError) -> TrainError {
    TrainError::Model {
        reason: e.to_string(),
    }
}

/// HF tensor names and shapes of a Llama with this configuration.
pub fn hf_tensor_shapes(c: &LlamaConfig, with_head: bool) -> Vec<(String, Vec<usize>)> {
    let (h, i, hd) = (c.hidden_size, c.intermediate_size, c.head_dim);
    let (q, kv) = (c.num_heads * hd, c.num_kv_heads * hd);
    let mut out = vec![(
        "model.embed_tokens.weight".to_string(),
        vec![c.vocab_size, h],
    )];
    for l in 0..c.num_layers {
        let p = format!("model.layers.{l}");
        for (name, shape) in [
            ("input_layernorm.weight", vec![h]),
            ("self_attn.q_proj.weight", vec![q, h]),
            ("self_attn.k_proj.weight", vec![kv, h]),
            ("self_attn.v_proj.weight", vec![kv, h]),
            ("self_attn.o_proj.weight", vec![h, q]),
            ("post_attention_layernorm.weight", vec![h]),
            ("mlp.gate_proj.weight", vec![i, h]),
            ("mlp.up_proj.weight", vec![i, h]),
            ("mlp.down_proj.weight", vec![h, i]),
        ] {
            out.push((format!("{p}.{name}"), shape));
        }
    }
    out.push(("model.norm.weight".to_string(), vec![h]));
    if with_head {
        out.push(("lm_head.weight".to_string(), vec![c.vocab_size, h]));
    }
    out
}

/// transformers' `config.json` for this configuration.
pub fn hf_config_json(c: &LlamaConfig) -> Value {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_layers,
        "num_attention_heads": c.num_heads,
        "num_key_value_heads": c.num_kv_heads,
        "head_dim": c.head_dim,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "max_position_embeddings": c.max_seq_len,
        "tie_word_embeddings": c.tie_word_embeddings,
        "hidden_act": "silu",
        "attention_bias": false,
        "mlp_bias": false,
        "torch_dtype": "float32"
    })
}

/// Dequantizes every tensor of a GGUF Llama into HF names and layout (f32), with its config.
/// Rotary scaling is not representable here and is refused rather than dropped.
pub fn gguf_as_hf(path: &Path) -> Result<(BTreeMap<String, RawTensor>, Value), TrainError> {
    let file = GgufFile::open(path).map_err(model_err)?;
    let config = from_gguf(&file).map_err(model_err)?;
    if config.rope_scaling.is_some() {
        return Err(TrainError::config(
            "model",
            "this GGUF uses rotary scaling, which the HF export does not write yet",
        ));
    }
    let src = GgufWeights {
        file: &file,
        config: &config,
    };
    let with_head = src.contains("lm_head.weight");
    let mut out = BTreeMap::new();
    for (name, shape) in hf_tensor_shapes(&config, with_head) {
        let values = src.load(&name, &shape).map_err(model_err)?;
        out.insert(
            name,
            RawTensor {
                dtype: Dtype::F32,
                shape,
                bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            },
        );
    }
    let mut cfg = hf_config_json(&config);
    if !with_head {
        cfg["tie_word_embeddings"] = json!(true);
    }
    Ok((out, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::merge::read_raw;

    fn f32s(t: &RawTensor) -> Vec<f32> {
        t.bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// The HF-layout (un-permuted) q_proj/k_proj of layer 0 that gguf.quants + transformers give
    /// (../shared/golden/gguf_smollm2/weights_slices.safetensors): equal to 1e-6 absolute
    /// (the same Q8_0/Q4_1 dequantization; only the f32 scale products may round differently).
    #[test]
    fn smollm2_gguf_gives_hf_layout_weights() {
        let (Some(gguf), Some(shared)) = (crate::testing::smollm2(), crate::testing::shared())
        else {
            return;
        };
        let slices =
            read_raw(&shared.join("golden/gguf_smollm2/weights_slices.safetensors")).unwrap();
        let (tensors, cfg) = gguf_as_hf(&gguf).unwrap();
        assert_eq!(cfg["num_hidden_layers"], 30);
        assert_eq!(tensors.len(), 1 + 30 * 9 + 1);
        for name in [
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.self_attn.k_proj.weight",
        ] {
            let want = &slices[&format!("hf.{name}")];
            assert_eq!(tensors[name].shape, want.shape);
            let worst = f32s(&tensors[name])
                .iter()
                .zip(f32s(want))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-6, "{name}: {worst}");
        }
    }
}
