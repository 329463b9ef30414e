//! Rotary position embeddings (Su et al. 2021) in the "rotate half" layout transformers uses.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::config::{LlamaConfig, RopeScaling};

/// Precomputed `cos`/`sin` tables `[max_seq_len, head_dim]`; positions beyond them are
/// computed on demand.
#[derive(Module, Debug)]
pub struct Rope {
    /// `cos(p·θᵢ)`, halves repeated.
    pub cos: Tensor<2>,
    /// `sin(p·θᵢ)`, halves repeated.
    pub sin: Tensor<2>,
    /// Inverse frequencies `θᵢ`.
    #[module(skip)]
    pub inv_freq: Vec<f32>,
}

/// `cos` and `sin` rows for `positions`, each `[len, 2·inv.len()]` row-major.
fn tables(inv: &[f32], positions: std::ops::Range<usize>) -> (Vec<f32>, Vec<f32>) {
    let n = positions.len() * inv.len() * 2;
    let (mut cos, mut sin) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for p in positions {
        // Angles in f32 as transformers' `inv_freq @ position_ids` produces them.
        let angles: Vec<f32> = inv.iter().map(|f| f * p as f32).collect();
        for _ in 0..2 {
            cos.extend(angles.iter().map(|a| a.cos()));
            sin.extend(angles.iter().map(|a| a.sin()));
        }
    }
    (cos, sin)
}

/// Inverse frequencies `θ^(-2i/d)`, computed in `f32` like transformers, then rescaled.
pub fn inverse_frequencies(config: &LlamaConfig) -> Vec<f32> {
    let d = config.head_dim;
    let base = config.rope_theta as f32;
    let inv: Vec<f32> = (0..d / 2)
        .map(|i| 1.0 / base.powf((2 * i) as f32 / d as f32))
        .collect();
    match &config.rope_scaling {
        None => inv,
        Some(RopeScaling::Linear { factor }) => inv.iter().map(|f| f / *factor as f32).collect(),
        Some(RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        }) => {
            // transformers `_compute_llama3_parameters`.
            let old = *original_max_position_embeddings as f64;
            let low_wavelen = old / low_freq_factor;
            let high_wavelen = old / high_freq_factor;
            inv.iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f as f64;
                    let f = f as f64;
                    let out = if wavelen > low_wavelen {
                        f / factor
                    } else if wavelen < high_wavelen {
                        f
                    } else {
                        let smooth = (old / wavelen - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    };
                    out as f32
                })
                .collect()
        }
    }
}

impl Rope {
    /// Tables for positions `0..config.max_seq_len`.
    pub fn new(config: &LlamaConfig, device: &Device) -> Self {
        let inv = inverse_frequencies(config);
        let (n, d) = (config.max_seq_len, 2 * inv.len());
        let (cos, sin) = tables(&inv, 0..n);
        Self {
            cos: Tensor::from_data(TensorData::new(cos, [n, d]), device),
            sin: Tensor::from_data(TensorData::new(sin, [n, d]), device),
            inv_freq: inv,
        }
    }

    /// Longest sequence covered.
    pub fn max_len(&self) -> usize {
        self.cos.dims()[0]
    }

    /// Rotates `x [b, heads, s, d]` whose first position is `start`.
    pub fn apply(&self, x: Tensor<4>, start: usize) -> Tensor<4> {
        let [_, _, s, d] = x.dims();
        let (cos, sin) = if start + s <= self.max_len() {
            (
                self.cos.clone().narrow(0, start, s),
                self.sin.clone().narrow(0, start, s),
            )
        } else {
            let (c, si) = tables(&self.inv_freq, start..start + s);
            let device = x.device();
            (
                Tensor::from_data(TensorData::new(c, [s, d]), &device),
                Tensor::from_data(TensorData::new(si, [s, d]), &device),
            )
        };
        let (cos, sin) = (cos.unsqueeze::<4>(), sin.unsqueeze::<4>());
        let x1 = x.clone().narrow(3, 0, d / 2);
        let x2 = x.clone().narrow(3, d / 2, d / 2);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * cos + rotated * sin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_past_the_table_match_a_longer_table() {
        let d = Device::flex();
        let short = Rope::new(
            &LlamaConfig::new(10, 16, 32, 1, 2, 2, 8).with_max_seq_len(4),
            &d,
        );
        let long = Rope::new(
            &LlamaConfig::new(10, 16, 32, 1, 2, 2, 8).with_max_seq_len(16),
            &d,
        );
        let x = Tensor::<4>::random([1, 2, 6, 8], burn::tensor::Distribution::Default, &d);
        let a: Vec<f32> = short.apply(x.clone(), 3).into_data().try_to_vec().unwrap();
        let b: Vec<f32> = long.apply(x, 3).into_data().try_to_vec().unwrap();
        assert_eq!(a, b);
    }
}
