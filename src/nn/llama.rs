//! The Llama-family decoder: embedding, blocks, final norm and output head.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};

use super::block::Block;
use super::cache::KvCache;
use super::config::LlamaConfig;
use super::linear::Linear;
use super::lora::{Lora, LoraConfig};
use super::rms_norm::RmsNorm;
use super::rope::Rope;

/// PEFT `target_modules` names a [`Llama`] accepts.
pub const LORA_TARGETS: [&str; 8] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "lm_head",
];

/// A decoder-only transformer with Llama's architecture, frozen except for LoRA adapters.
#[derive(Module, Debug)]
pub struct Llama {
    /// Token embedding `[vocab, hidden]` (frozen).
    pub embed_tokens: Tensor<2>,
    /// Decoder blocks.
    pub layers: Vec<Block>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Output head `[hidden] → [vocab]`; shares the embedding when tied.
    pub lm_head: Linear,
    /// Rotary tables.
    pub rope: Rope,
    /// Hyper-parameters.
    #[module(skip)]
    pub config: LlamaConfig,
}

impl Llama {
    /// Hidden states after the final norm, `[b, s] → [b, s, hidden]`, for positions
    /// `cache.len..` (or `0..` without a cache).
    pub fn forward_hidden(
        &self,
        ids: Tensor<2, Int>,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [_, s] = ids.dims();
        let start = cache.as_ref().map_or(0, |c| c.len);
        let mut x = burn::tensor::module::embedding(self.embed_tokens.clone(), ids);
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_mut().and_then(|c| c.layers.get_mut(i));
            x = layer.forward(x, &self.rope, start, layer_cache);
        }
        if let Some(c) = cache {
            c.len += s;
        }
        self.norm.forward(x)
    }

    /// Logits `[b, s, vocab]` for every position.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.lm_head.forward(self.forward_hidden(ids, None))
    }

    /// Logits `[b, vocab]` of the last position only, extending `cache` (generation).
    pub fn forward_last(&self, ids: Tensor<2, Int>, cache: &mut KvCache) -> Tensor<2> {
        let h = self.forward_hidden(ids, Some(cache));
        let [b, s, d] = h.dims();
        let last = h.slice([0..b, s - 1..s, 0..d]).reshape([b, d]);
        self.lm_head.forward(last)
    }

    /// An empty KV cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    /// Longest sequence (prompt plus generated tokens) the rotary tables cover.
    pub fn max_seq_len(&self) -> usize {
        self.rope.max_len()
    }

    /// Adds fresh adapters to every linear named in `targets` (PEFT `target_modules` names,
    /// see [`LORA_TARGETS`]); unknown names are returned as the error.
    pub fn with_lora(
        mut self,
        targets: &[&str],
        config: &LoraConfig,
        device: &Device,
    ) -> Result<Self, Vec<String>> {
        let unknown: Vec<String> = targets
            .iter()
            .filter(|t| !LORA_TARGETS.contains(t))
            .map(|t| t.to_string())
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        let wrap = |l: Linear, name: &str| {
            if targets.contains(&name) {
                l.with_lora(config, device)
            } else {
                l
            }
        };
        self.layers = self
            .layers
            .into_iter()
            .map(|mut b| {
                let a = b.self_attn;
                b.self_attn = super::attention::Attention {
                    q_proj: wrap(a.q_proj, "q_proj"),
                    k_proj: wrap(a.k_proj, "k_proj"),
                    v_proj: wrap(a.v_proj, "v_proj"),
                    o_proj: wrap(a.o_proj, "o_proj"),
                    ..a
                };
                let m = b.mlp;
                b.mlp = super::mlp::Mlp {
                    gate_proj: wrap(m.gate_proj, "gate_proj"),
                    up_proj: wrap(m.up_proj, "up_proj"),
                    down_proj: wrap(m.down_proj, "down_proj"),
                };
                b
            })
            .collect();
        self.lm_head = wrap(self.lm_head, "lm_head");
        Ok(self)
    }

    /// Every linear with its PEFT module path (`model.layers.0.self_attn.q_proj`, `lm_head`).
    pub fn linears(&self) -> Vec<(String, &Linear)> {
        let mut out = Vec::new();
        for (i, b) in self.layers.iter().enumerate() {
            let a = &b.self_attn;
            let m = &b.mlp;
            for (name, l) in [
                ("self_attn.q_proj", &a.q_proj),
                ("self_attn.k_proj", &a.k_proj),
                ("self_attn.v_proj", &a.v_proj),
                ("self_attn.o_proj", &a.o_proj),
                ("mlp.gate_proj", &m.gate_proj),
                ("mlp.up_proj", &m.up_proj),
                ("mlp.down_proj", &m.down_proj),
            ] {
                out.push((format!("model.layers.{i}.{name}"), l));
            }
        }
        out.push(("lm_head".to_string(), &self.lm_head));
        out
    }

    /// Mutable access to every linear with its PEFT module path.
    pub fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut out = Vec::new();
        for (i, b) in self.layers.iter_mut().enumerate() {
            let a = &mut b.self_attn;
            let m = &mut b.mlp;
            for (name, l) in [
                ("self_attn.q_proj", &mut a.q_proj),
                ("self_attn.k_proj", &mut a.k_proj),
                ("self_attn.v_proj", &mut a.v_proj),
                ("self_attn.o_proj", &mut a.o_proj),
                ("mlp.gate_proj", &mut m.gate_proj),
                ("mlp.up_proj", &mut m.up_proj),
                ("mlp.down_proj", &mut m.down_proj),
            ] {
                out.push((format!("model.layers.{i}.{name}"), l));
            }
        }
        out.push(("lm_head".to_string(), &mut self.lm_head));
        out
    }

    /// Adapters keyed by PEFT module path; the tensors are saved as
    /// `base_model.model.<path>.lora_A.weight` and `….lora_B.weight`.
    pub fn lora_adapters(&self) -> Vec<(String, &Lora)> {
        self.linears()
            .into_iter()
            .filter_map(|(n, l)| l.lora.as_ref().map(|a| (n, a)))
            .collect()
    }

    /// The adapter tensors under their PEFT names (`base_model.model.….lora_A.weight`).
    pub fn lora_tensors(&self) -> Vec<(String, Tensor<2>)> {
        let mut out = Vec::new();
        for (path, lora) in self.lora_adapters() {
            out.push((
                format!("base_model.model.{path}.lora_A.weight"),
                lora.a.val(),
            ));
            out.push((
                format!("base_model.model.{path}.lora_B.weight"),
                lora.b.val(),
            ));
        }
        out
    }

    /// Folds every adapter into its base weight.
    pub fn merge_lora(mut self) -> Self {
        self.layers = self
            .layers
            .into_iter()
            .map(|mut b| {
                let a = b.self_attn;
                b.self_attn = super::attention::Attention {
                    q_proj: a.q_proj.merge(),
                    k_proj: a.k_proj.merge(),
                    v_proj: a.v_proj.merge(),
                    o_proj: a.o_proj.merge(),
                    ..a
                };
                let m = b.mlp;
                b.mlp = super::mlp::Mlp {
                    gate_proj: m.gate_proj.merge(),
                    up_proj: m.up_proj.merge(),
                    down_proj: m.down_proj.merge(),
                };
                b
            })
            .collect();
        self.lm_head = self.lm_head.merge();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::init::InitOptions;
    use crate::nn::lora::LoraConfig;

    fn tiny() -> Llama {
        let config = LlamaConfig::new(50, 32, 48, 2, 4, 2, 8).with_max_seq_len(16);
        config.init_random(InitOptions { native_gqa: true }, &Device::flex())
    }

    fn ids() -> Tensor<2, Int> {
        Tensor::from_data(
            burn::tensor::TensorData::new(vec![1i64, 5, 9, 3], [1, 4]),
            &Device::flex(),
        )
    }

    #[test]
    fn fresh_adapters_leave_outputs_unchanged_and_are_named_like_peft() {
        let model = tiny();
        let before: Vec<f32> = model.forward(ids()).into_data().try_to_vec().unwrap();
        let cfg = LoraConfig::new(4);
        let model = model
            .with_lora(&["q_proj", "v_proj", "lm_head"], &cfg, &Device::flex())
            .unwrap();
        let after: Vec<f32> = model.forward(ids()).into_data().try_to_vec().unwrap();
        assert_eq!(before, after);
        let names: Vec<String> = model.lora_tensors().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 2 * (2 * 2 + 1));
        assert_eq!(
            names[0],
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
        );
        assert_eq!(
            names.last().unwrap(),
            "base_model.model.lm_head.lora_B.weight"
        );
    }

    #[test]
    fn unknown_targets_are_reported() {
        let err = tiny()
            .with_lora(
                &["q_proj", "query", "mlp"],
                &LoraConfig::new(2),
                &Device::flex(),
            )
            .unwrap_err();
        assert_eq!(err, ["query", "mlp"]);
    }

    #[test]
    fn native_and_repeated_gqa_agree() {
        let config = LlamaConfig::new(50, 32, 48, 2, 4, 2, 8).with_max_seq_len(16);
        let a = config.init_random(InitOptions { native_gqa: true }, &Device::flex());
        let mut b = a.clone();
        for l in &mut b.layers {
            l.self_attn.native_gqa = false;
        }
        let x: Vec<f32> = a.forward(ids()).into_data().try_to_vec().unwrap();
        let y: Vec<f32> = b.forward(ids()).into_data().try_to_vec().unwrap();
        let diff = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "{diff}");
    }
}
