//! GGUF tensors under HF names and layout, for [`crate::nn::init::WeightSource`].

use super::dequant::{dequantize, unpermute_qk};
use super::error::ModelError;
use super::gguf::GgufFile;
use crate::nn::config::LlamaConfig;
use crate::nn::init::WeightSource;

/// Reads a llama.cpp GGUF file as if it were a transformers state dict.
pub struct GgufWeights<'a> {
    /// The file.
    pub file: &'a GgufFile,
    /// Its configuration (head counts for the q/k un-permutation).
    pub config: &'a LlamaConfig,
}

/// The llama.cpp tensor name for an HF name, and the head count to un-permute with (q/k only).
pub fn gguf_name(hf: &str, config: &LlamaConfig) -> Option<(String, Option<usize>)> {
    match hf {
        "model.embed_tokens.weight" => return Some(("token_embd.weight".into(), None)),
        "model.norm.weight" => return Some(("output_norm.weight".into(), None)),
        "lm_head.weight" => return Some(("output.weight".into(), None)),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, name) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (short, heads) = match name {
        "input_layernorm.weight" => ("attn_norm", None),
        "self_attn.q_proj.weight" => ("attn_q", Some(config.num_heads)),
        "self_attn.k_proj.weight" => ("attn_k", Some(config.num_kv_heads)),
        "self_attn.v_proj.weight" => ("attn_v", None),
        "self_attn.o_proj.weight" => ("attn_output", None),
        "post_attention_layernorm.weight" => ("ffn_norm", None),
        "mlp.gate_proj.weight" => ("ffn_gate", None),
        "mlp.up_proj.weight" => ("ffn_up", None),
        "mlp.down_proj.weight" => ("ffn_down", None),
        _ => return None,
    };
    Some((format!("blk.{layer}.{short}.weight"), heads))
}

impl WeightSource for GgufWeights<'_> {
    type Error = ModelError;

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let Some((gguf, heads)) = gguf_name(name, self.config) else {
            return Err(ModelError::MissingTensor {
                path: self.file.path().to_path_buf(),
                tensor: name.to_string(),
            });
        };
        let info = self.file.tensor(&gguf)?;
        if info.shape() != shape {
            return Err(ModelError::TensorShape {
                path: self.file.path().to_path_buf(),
                tensor: gguf,
                expected: shape.to_vec(),
                found: info.shape(),
            });
        }
        let values = dequantize(self.file, info)?;
        match (heads, shape) {
            (Some(h), [rows, cols]) => {
                unpermute_qk(&values, *rows, *cols, h).ok_or_else(|| ModelError::TensorShape {
                    path: self.file.path().to_path_buf(),
                    tensor: info.name.clone(),
                    expected: vec![h * self.config.head_dim, *cols],
                    found: info.shape(),
                })
            }
            _ => Ok(values),
        }
    }

    fn contains(&self, name: &str) -> bool {
        gguf_name(name, self.config).is_some_and(|(g, _)| self.file.find_tensor(&g).is_some())
    }
}
