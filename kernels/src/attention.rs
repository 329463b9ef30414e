//! Causal attention whose backward recomputes the attention probabilities.
//!
//! Autodiff through Burn's decomposed attention (`attention_fallback`: `q·kᵀ`, mask, softmax,
//! `·v`) keeps two `[b, h, s, s]` tensors per layer until backward: `exp(scores)` and the
//! softmax. On Llama-2-7B at 1,304 tokens in bf16 that is 2 × 109 MB × 32 layers ≈ 7 GB, most of
//! what lpipe's LoRA step held beyond PEFT's (which uses a fused attention). Here the forward
//! runs the same decomposition on the inner backend (so its values are unchanged, bit for bit)
//! and keeps only `q`, `k` and `v`, which the projections before it keep anyway; backward
//! recomputes the probabilities of one layer at a time:
//!
//! ```text
//! P  = softmax(mask(q·kᵀ·c))         dv = Pᵀ·do
//! dP = do·vᵀ                          dS = P ⊙ (dP − rowsum(P ⊙ dP))
//! dq = dS·k·c                         dk = dSᵀ·q·c
//! ```

use burn::backend::Dispatch;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::ops::AttentionModuleOptions;
use burn::backend::ops::attention::attention_fallback;
use burn::backend::{Backend, TensorMetadata, get_or_init_device_settings, tensor::FloatTensor};
use burn::tensor::{Shape, Tensor};

use crate::AttentionBackend;

/// `softmax(causal(q·kᵀ/√d))·v` for `[b, h, s, d]` tensors with equal head counts; under
/// autodiff, backward recomputes the probabilities instead of keeping them.
pub fn causal_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as AttentionBackend>::causal_attention(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
    ))
}

/// Causal attention with the default scale `1/√d`, as the model calls it.
fn causal() -> AttentionModuleOptions {
    AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal: true,
    }
}

/// The decomposed causal attention on `B` (what Burn's own `attention` runs under autodiff).
pub fn causal_attention_reference<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
) -> FloatTensor<B> {
    attention_fallback::<B>(q, k, v, None, None, causal())
}

/// The causal softmax probabilities `[b, h, s_q, s_k]` of `q`, `k`: the steps of
/// `attention_fallback` up to its softmax, on the same primitives in the same order, so they
/// equal what the forward pass multiplied `v` by.
fn probabilities<B: Backend>(q: FloatTensor<B>, k: FloatTensor<B>) -> FloatTensor<B> {
    let [b, h, s_q, d] = q.shape().dims::<4>();
    let s_k = k.shape().dims::<4>()[2];
    let device = q.device();
    let scale = 1.0 / (d as f64).sqrt();
    let scores = B::float_mul_scalar(B::float_matmul(q, B::float_transpose(k)), scale.into());
    let settings = get_or_init_device_settings::<B>(&device);
    // Masked where col > row + (s_k - s_q): causal, aligned at the bottom-right.
    let rows = B::int_reshape(
        B::int_arange(0..s_q as i64, &device, settings.int_dtype),
        Shape::new([s_q, 1]),
    );
    let cols = B::int_reshape(
        B::int_arange(0..s_k as i64, &device, settings.int_dtype),
        Shape::new([1, s_k]),
    );
    let rows = B::int_add_scalar(rows, (s_k as i64 - s_q as i64).into());
    let mask = B::int_lower(rows, cols, settings.bool_dtype);
    let mask = B::bool_expand(
        B::bool_reshape(mask, Shape::new([1, 1, s_q, s_k])),
        Shape::new([b, h, s_q, s_k]),
    );
    let scores = B::float_mask_fill(scores, mask, f32::NEG_INFINITY.into());
    // Scores are a float tensor, so `finfo` is always there; f32's limits otherwise.
    let (min, min_positive) = scores
        .dtype()
        .finfo()
        .map_or((f64::from(f32::MIN), f64::from(f32::MIN_POSITIVE)), |f| {
            (f.min, f.min_positive)
        });
    let max = B::float_clamp_min(B::float_max_dim(scores.clone(), 3), min.into());
    let numerator = B::float_exp(B::float_sub(scores, max));
    let sum = B::float_clamp_min(B::float_sum_dim(numerator.clone(), 3), min_positive.into());
    B::float_div(numerator, sum)
}

impl<B: Backend + AttentionBackend, C: CheckpointStrategy> AttentionBackend for Autodiff<B, C> {
    fn causal_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct CausalAttentionBackward;

        impl<B: Backend> Backward<B, 3> for CausalAttentionBackward {
            type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _: &mut Checkpointer,
            ) {
                let [node_q, node_k, node_v] = ops.parents;
                let d_out = grads.consume::<B>(&ops.node);
                let (q, k, v) = ops.state;
                let d = q.shape().dims::<4>()[3];
                let c = 1.0 / (d as f64).sqrt();
                let p = probabilities::<B>(q.clone(), k.clone());
                if let Some(node) = node_v {
                    let dv = B::float_matmul(B::float_transpose(p.clone()), d_out.clone());
                    grads.register::<B>(node.id, dv);
                }
                if node_q.is_none() && node_k.is_none() {
                    return;
                }
                let dp = B::float_matmul(d_out, B::float_transpose(v));
                let row = B::float_sum_dim(B::float_mul(p.clone(), dp.clone()), 3);
                let ds = B::float_mul(p, B::float_sub(dp, row));
                if let Some(node) = node_q {
                    let dq = B::float_mul_scalar(B::float_matmul(ds.clone(), k), c.into());
                    grads.register::<B>(node.id, dq);
                }
                if let Some(node) = node_k {
                    let dk =
                        B::float_mul_scalar(B::float_matmul(B::float_transpose(ds), q), c.into());
                    grads.register::<B>(node.id, dk);
                }
            }
        }

        let (q, q_guard) = q.into_parts();
        let (k, k_guard) = k.into_parts();
        let (v, v_guard) = v.into_parts();
        match CausalAttentionBackward
            .prepare::<C>([q_guard, k_guard, v_guard])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = causal_attention_reference::<B>(q.clone(), k.clone(), v.clone());
                prep.finish((q, k, v), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(causal_attention_reference::<B>(q, k, v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap_or_default()
    }

    /// Same forward values bit for bit as Burn's attention under autodiff, and the same
    /// gradients for q, k and v. Tolerance 2e-6 · (1 + |g|): both sides sum at most 9 products of
    /// O(1) values in f32 in different orders (a few ulps, ~1e-7 each); a wrong formula (a
    /// missing scale, the row term dropped, P not transposed) is off by O(0.1).
    #[test]
    fn recomputing_backward_equals_autodiff_through_the_decomposition() {
        let device = Device::flex().autodiff();
        device.seed(3);
        // Two query rows fewer than keys: causal alignment at the bottom-right is exercised.
        for (s_q, s_k) in [(9, 9), (7, 9)] {
            let q = Tensor::<4>::random([2, 3, s_q, 5], Distribution::Normal(0.0, 1.0), &device);
            let k = Tensor::<4>::random([2, 3, s_k, 5], Distribution::Normal(0.0, 1.0), &device);
            let v = Tensor::<4>::random([2, 3, s_k, 5], Distribution::Normal(0.0, 1.0), &device);
            let g = Tensor::<4>::random([2, 3, s_q, 5], Distribution::Normal(0.0, 1.0), &device);
            let run = |custom: bool| {
                let (q, k, v) = (
                    q.clone().require_grad(),
                    k.clone().require_grad(),
                    v.clone().require_grad(),
                );
                let out = if custom {
                    super::causal_attention(q.clone(), k.clone(), v.clone())
                } else {
                    burn::tensor::module::attention(
                        q.clone(),
                        k.clone(),
                        v.clone(),
                        None,
                        None,
                        super::causal(),
                    )
                };
                let grads = (out.clone() * g.clone()).sum().backward();
                let grad = |t: &Tensor<4>| {
                    values(
                        t.grad(&grads)
                            .map(|g| g.inner())
                            .unwrap_or_else(|| t.clone().inner().zeros_like()),
                    )
                };
                (values(out.inner()), grad(&q), grad(&k), grad(&v))
            };
            let (out, dq, dk, dv) = run(true);
            let (out_r, dq_r, dk_r, dv_r) = run(false);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&out), bits(&out_r), "forward {s_q}x{s_k}");
            for (name, a, b) in [("dq", dq, dq_r), ("dk", dk, dk_r), ("dv", dv, dv_r)] {
                assert_eq!(a.len(), b.len());
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    let tol = 2e-6 * (1.0 + y.abs());
                    assert!((x - y).abs() <= tol, "{name}[{i}] {s_q}x{s_k}: {x} vs {y}");
                }
                assert!(
                    b.iter().any(|y| y.abs() > 0.1),
                    "{name}: gradients too small to test"
                );
            }
        }
    }
}
