//! Building a [`Llama`] from checkpoint weights (HF names and layout) or at random.

use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::attention::Attention;
use super::block::Block;
use super::config::LlamaConfig;
use super::linear::Linear;
use super::llama::Llama;
use super::mlp::Mlp;
use super::rms_norm::RmsNorm;
use super::rope::Rope;

/// Checkpoint weights addressed by HF name (`model.layers.0.self_attn.q_proj.weight`) in HF
/// layout (`[out, in]` for linears), converted to `f32`.
pub trait WeightSource {
    /// Why a tensor could not be produced.
    type Error;
    /// Row-major values of `name`, which must have exactly `shape`.
    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, Self::Error>;
    /// `name` in its stored dtype (F32, F16 or BF16), without per-element work on the host, for
    /// a GPU device; `None` when the source has no such form (then [`WeightSource::load`]).
    fn load_stored(
        &self,
        _name: &str,
        _shape: &[usize],
    ) -> Result<Option<TensorData>, Self::Error> {
        Ok(None)
    }
    /// Whether the checkpoint has `name` (decides between a tied and an untied head).
    fn contains(&self, name: &str) -> bool;
}

/// Which attention kernel layout a device needs; see [`Attention::native_gqa`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitOptions {
    /// The backend's attention accepts fewer key/value heads than query heads.
    pub native_gqa: bool,
}

impl LlamaConfig {
    /// Loads every weight of the decoder from `src` onto `device`.
    pub fn init_from<S: WeightSource>(
        &self,
        src: &S,
        options: InitOptions,
        device: &Device,
    ) -> Result<Llama, S::Error> {
        let (h, f, hd) = (self.hidden_size, self.intermediate_size, self.head_dim);
        let (q, kv) = (self.num_heads * hd, self.num_kv_heads * hd);
        // On a GPU the stored bytes go up as they are (bf16 stays bf16, the device casts if the
        // run's precision differs) and a linear keeps HF's [out, in] layout, read transposed
        // through its strides by the matmul: loading is a copy, not a per-element conversion
        // and host transpose. flex keeps the f32 [in, out] layout its gemm wants.
        let stored = device.clone().without_autodiff() != Device::flex();
        let upload = |name: &str, shape: &[usize]| -> Result<Option<Tensor<2>>, S::Error> {
            if !stored {
                return Ok(None);
            }
            Ok(src
                .load_stored(name, shape)?
                .map(|data| Tensor::<2>::from_data(data, device)))
        };
        let linear = |name: String, out: usize, inp: usize| -> Result<Linear, S::Error> {
            if let Some(w) = upload(&name, &[out, inp])? {
                return Ok(Linear::from_transposed(w.transpose()));
            }
            let w = src.load(&name, &[out, inp])?;
            Ok(Linear::from_hf(&w, out, inp, device))
        };
        let norm = |name: String| -> Result<RmsNorm, S::Error> {
            Ok(RmsNorm::new(
                &src.load(&name, &[h])?,
                self.rms_norm_eps,
                device,
            ))
        };
        let embed_shape = [self.vocab_size, h];
        let embed_tokens = match upload("model.embed_tokens.weight", &embed_shape)? {
            Some(t) => t,
            None => {
                let embed = src.load("model.embed_tokens.weight", &embed_shape)?;
                Tensor::<2>::from_data(TensorData::new(embed, embed_shape), device)
            }
        };
        let mut layers = Vec::with_capacity(self.num_layers);
        for i in 0..self.num_layers {
            let p = format!("model.layers.{i}");
            layers.push(Block {
                input_layernorm: norm(format!("{p}.input_layernorm.weight"))?,
                self_attn: Attention {
                    q_proj: linear(format!("{p}.self_attn.q_proj.weight"), q, h)?,
                    k_proj: linear(format!("{p}.self_attn.k_proj.weight"), kv, h)?,
                    v_proj: linear(format!("{p}.self_attn.v_proj.weight"), kv, h)?,
                    o_proj: linear(format!("{p}.self_attn.o_proj.weight"), h, q)?,
                    num_heads: self.num_heads,
                    num_kv_heads: self.num_kv_heads,
                    head_dim: hd,
                    native_gqa: options.native_gqa,
                },
                post_attention_layernorm: norm(format!("{p}.post_attention_layernorm.weight"))?,
                mlp: Mlp {
                    gate_proj: linear(format!("{p}.mlp.gate_proj.weight"), f, h)?,
                    up_proj: linear(format!("{p}.mlp.up_proj.weight"), f, h)?,
                    down_proj: linear(format!("{p}.mlp.down_proj.weight"), h, f)?,
                },
            });
        }
        let lm_head = if self.tie_word_embeddings && !src.contains("lm_head.weight") {
            // A transposed view: the head shares the embedding's memory.
            Linear::from_transposed(embed_tokens.clone().transpose())
        } else {
            linear("lm_head.weight".to_string(), self.vocab_size, h)?
        };
        Ok(Llama {
            embed_tokens,
            layers,
            norm: norm("model.norm.weight".to_string())?,
            lm_head,
            rope: Rope::new(self, device),
            config: self.clone(),
        })
    }

    /// A randomly initialised decoder (tests and benchmarks of shapes, not of quality).
    pub fn init_random(&self, options: InitOptions, device: &Device) -> Llama {
        let src = RandomWeights {
            device: device.clone(),
        };
        match self.init_from(&src, options, device) {
            Ok(m) => m,
            Err(never) => match never {},
        }
    }
}

/// Normal(0, 0.02) matrices and unit norm gains.
struct RandomWeights {
    device: Device,
}

impl WeightSource for RandomWeights {
    type Error = std::convert::Infallible;

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, Self::Error> {
        if name.ends_with("norm.weight") {
            return Ok(vec![1.0; shape.iter().product()]);
        }
        let n: usize = shape.iter().product();
        let t = Tensor::<1>::random([n], Distribution::Normal(0.0, 0.02), &self.device);
        Ok(t.into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; n]))
    }

    fn contains(&self, _name: &str) -> bool {
        false
    }
}
