//! Grouped-query causal self-attention with rotary positions and an optional KV cache.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use super::cache::LayerCache;
use super::linear::Linear;
use super::rope::Rope;

/// Multi-head attention where `num_heads / num_kv_heads` query heads share each key/value head.
#[derive(Module, Debug)]
pub struct Attention {
    /// `q_proj`, `[hidden] → [heads·head_dim]`.
    pub q_proj: Linear,
    /// `k_proj`, `[hidden] → [kv_heads·head_dim]`.
    pub k_proj: Linear,
    /// `v_proj`, `[hidden] → [kv_heads·head_dim]`.
    pub v_proj: Linear,
    /// `o_proj`, `[heads·head_dim] → [hidden]`.
    pub o_proj: Linear,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Whether the backend's attention kernel takes fewer K/V heads than Q heads (flex does);
    /// otherwise K/V heads are repeated first.
    pub native_gqa: bool,
}

impl Attention {
    /// `[b, s, hidden] → [b, s, hidden]` for positions `start..start+s`; `cache` holds the
    /// keys and values of positions `0..start`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        start: usize,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let [b, s, _] = x.dims();
        let (h, kv, d) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let q = self
            .q_proj
            .forward(x.clone())
            .reshape([b, s, h, d])
            .swap_dims(1, 2);
        let k = self
            .k_proj
            .forward(x.clone())
            .reshape([b, s, kv, d])
            .swap_dims(1, 2);
        let v = self
            .v_proj
            .forward(x)
            .reshape([b, s, kv, d])
            .swap_dims(1, 2);
        let q = rope.apply(q, start);
        let k = rope.apply(k, start);
        let (k, v) = match cache {
            Some(c) => c.append(k, v),
            None => (k, v),
        };
        let (k, v) = if self.native_gqa && !q.is_autodiff() || h == kv {
            (k, v)
        } else {
            (repeat_kv(k, h / kv), repeat_kv(v, h / kv))
        };
        // Causal masking aligns at the bottom-right, so cached prefixes stay visible.
        let options = AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal: true,
        };
        // Training: the probabilities are recomputed in backward instead of kept, two
        // [b, h, s, s] tensors per layer less (lpipe_kernels::attention).
        let out = if q.is_autodiff() {
            lpipe_kernels::attention::causal_attention(q, k, v)
        } else {
            attention(q, k, v, None, None, options)
        };
        self.o_proj
            .forward(out.swap_dims(1, 2).reshape([b, s, h * d]))
    }
}

/// `[b, kv, s, d] → [b, kv·n, s, d]`, each K/V head repeated for its `n` query heads.
fn repeat_kv(x: Tensor<4>, n: usize) -> Tensor<4> {
    if n == 1 {
        return x;
    }
    let [b, kv, s, d] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, kv, n, s, d])
        .reshape([b, kv * n, s, d])
}
