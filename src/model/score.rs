//! Log-probability of a continuation given a context: the primitive evaluation builds on.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::error::ModelError;
use crate::nn::Llama;

/// Per-token and aggregate log-probabilities of a continuation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Score {
    /// `log p(token_i | context, tokens_<i)` in nats, one per continuation token.
    pub token_logprobs: Vec<f64>,
    /// Sum over the continuation.
    pub sum: f64,
    /// Mean over the continuation.
    pub mean: f64,
    /// Whether every continuation token was the argmax (greedy) choice.
    pub greedy: bool,
}

/// Checks ids against the model's vocabulary and context.
pub fn check_ids(model: &Llama, ids: &[u32]) -> Result<(), ModelError> {
    let vocab = model.config.vocab_size;
    if let Some((i, id)) = ids
        .iter()
        .enumerate()
        .find(|(_, id)| **id as usize >= vocab)
    {
        return Err(ModelError::Input {
            what: format!("token {i} has id {id}, but the vocabulary has {vocab} entries"),
        });
    }
    if ids.len() > model.max_seq_len() {
        return Err(ModelError::Input {
            what: format!(
                "{} tokens exceed the context length {}",
                ids.len(),
                model.max_seq_len()
            ),
        });
    }
    Ok(())
}

/// An id tensor `[rows, len]` from row-major ids.
pub fn id_tensor(ids: &[u32], rows: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let len = ids.len() / rows.max(1);
    Tensor::from_data(TensorData::new(data, [rows, len]), device)
}

/// Scores several `(context, continuation)` pairs in one right-padded batch.
///
/// Right padding needs no attention mask: causal attention never lets a real position see the
/// padding after it.
pub fn score_batch(model: &Llama, pairs: &[(&[u32], &[u32])]) -> Result<Vec<Score>, ModelError> {
    let device = model.embed_tokens.device();
    for (ctx, cont) in pairs {
        if ctx.is_empty() || cont.is_empty() {
            return Err(ModelError::Input {
                what: "context and continuation must each hold at least one token".into(),
            });
        }
        let full: Vec<u32> = ctx.iter().chain(cont.iter()).copied().collect();
        check_ids(model, &full)?;
    }
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    // The last continuation token is only ever predicted, never fed.
    let width = pairs
        .iter()
        .map(|(c, t)| c.len() + t.len() - 1)
        .max()
        .unwrap_or(1);
    let mut ids = Vec::with_capacity(pairs.len() * width);
    for (ctx, cont) in pairs {
        let row: Vec<u32> = ctx.iter().chain(&cont[..cont.len() - 1]).copied().collect();
        ids.extend(row.iter().chain(std::iter::repeat_n(&0, width - row.len())));
    }
    let hidden = model.forward_hidden(id_tensor(&ids, pairs.len(), &device), None);
    let [b, s, d] = hidden.dims();
    // Only the positions that predict continuation tokens go through the large head.
    let mut rows = Vec::new();
    for (r, (ctx, cont)) in pairs.iter().enumerate() {
        for i in 0..cont.len() {
            rows.push((r * s + ctx.len() - 1 + i) as i64);
        }
    }
    let index = Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [rows.len()]), &device);
    let picked = hidden.reshape([b * s, d]).select(0, index);
    let logits = model.lm_head.forward(picked);
    let vocab = logits.dims()[1];
    let values: Vec<f32> =
        logits
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Input {
                what: format!("cannot read logits: {e:?}"),
            })?;
    let mut out = Vec::with_capacity(pairs.len());
    let mut row = 0;
    for (_, cont) in pairs {
        let mut lps = Vec::with_capacity(cont.len());
        let mut greedy = true;
        for &tok in cont.iter() {
            let l = &values[row * vocab..(row + 1) * vocab];
            let (lp, is_max) = log_prob(l, tok as usize);
            greedy &= is_max;
            lps.push(lp);
            row += 1;
        }
        let sum: f64 = lps.iter().sum();
        out.push(Score {
            mean: sum / lps.len() as f64,
            sum,
            token_logprobs: lps,
            greedy,
        });
    }
    Ok(out)
}

/// Scores one continuation.
pub fn score(model: &Llama, context: &[u32], continuation: &[u32]) -> Result<Score, ModelError> {
    let mut v = score_batch(model, &[(context, continuation)])?;
    v.pop().ok_or_else(|| ModelError::Input {
        what: "nothing to score".into(),
    })
}

/// `log_softmax(logits)[target]` in f64 (as the reference computes it) and whether `target` is
/// the argmax.
pub fn log_prob(logits: &[f32], target: usize) -> (f64, bool) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let lse = logits
        .iter()
        .map(|&v| (v as f64 - max).exp())
        .sum::<f64>()
        .ln()
        + max;
    let t = logits.get(target).copied().unwrap_or(f32::NEG_INFINITY);
    (t as f64 - lse, t as f64 >= max)
}
