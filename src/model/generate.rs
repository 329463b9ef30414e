//! Autoregressive decoding with a KV cache: greedy, temperature and nucleus (top-p) sampling.

use rand::{Rng, SeedableRng};

use super::error::ModelError;
use super::score::{check_ids, id_tensor};
use crate::nn::Llama;

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; `0` means greedy (argmax).
    pub temperature: f32,
    /// Nucleus mass kept before sampling (`1` keeps everything).
    pub top_p: f32,
    /// Tokens to generate at most.
    pub max_new_tokens: usize,
    /// Tokens that end generation (emitted, then stop).
    pub stop: Vec<u32>,
    /// Seed of the sampler.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens: 64,
            stop: Vec::new(),
            seed: 0,
        }
    }
}

/// Generates after `prompt`, calling `on_token` with each new id as soon as it is chosen;
/// returns the generated ids.
pub fn generate(
    model: &Llama,
    prompt: &[u32],
    sampling: &Sampling,
    mut on_token: impl FnMut(u32),
) -> Result<Vec<u32>, ModelError> {
    if prompt.is_empty() {
        return Err(ModelError::Input {
            what: "the prompt has no tokens".into(),
        });
    }
    check_ids(model, prompt)?;
    let budget = model.max_seq_len().saturating_sub(prompt.len());
    let steps = sampling.max_new_tokens.min(budget);
    let device = model.embed_tokens.device();
    let mut rng = rand::rngs::StdRng::seed_from_u64(sampling.seed);
    let mut cache = model.new_cache();
    let mut input = prompt.to_vec();
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        let logits = model.forward_last(id_tensor(&input, 1, &device), &mut cache);
        let logits: Vec<f32> =
            logits
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| ModelError::Input {
                    what: format!("cannot read logits: {e:?}"),
                })?;
        let next = pick(&logits, sampling, &mut rng);
        on_token(next);
        out.push(next);
        if sampling.stop.contains(&next) {
            break;
        }
        input = vec![next];
    }
    Ok(out)
}

/// Chooses a token from one row of logits.
pub fn pick(logits: &[f32], sampling: &Sampling, rng: &mut impl Rng) -> u32 {
    if sampling.temperature <= 0.0 {
        return argmax(logits);
    }
    let t = sampling.temperature as f64;
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u32, ((v as f64 - max) / t).exp()))
        .collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    // Smallest prefix whose mass reaches top_p (at least one token), as HF's TopPLogitsWarper.
    let mut kept = 0;
    let mut mass = 0.0;
    for p in &probs {
        kept += 1;
        mass += p.1 / total;
        if mass >= sampling.top_p as f64 {
            break;
        }
    }
    let probs = &probs[..kept];
    let norm: f64 = probs.iter().map(|p| p.1).sum();
    let mut r = rng.random::<f64>() * norm;
    for &(id, p) in probs {
        if r < p {
            return id;
        }
        r -= p;
    }
    probs.last().map_or(0, |p| p.0)
}

/// Index of the first maximum (as `torch.argmax`).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_p_restricts_to_the_nucleus() {
        let logits = [10.0, 9.0, 0.0, 0.0];
        let s = Sampling {
            temperature: 1.0,
            top_p: 0.5,
            ..Sampling::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        // p(0) ≈ 0.73 ≥ 0.5, so only token 0 survives.
        assert!((0..200).all(|_| pick(&logits, &s, &mut rng) == 0));
        let s = Sampling { top_p: 0.99, ..s };
        let picks: Vec<u32> = (0..400).map(|_| pick(&logits, &s, &mut rng)).collect();
        assert!(picks.contains(&0) && picks.contains(&1));
        assert!(!picks.contains(&2) && !picks.contains(&3));
    }
}
