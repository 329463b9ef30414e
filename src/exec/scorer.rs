//! The Burn model as an evaluation [`Scorer`]: requests are packed into right-padded batches and
//! only the positions that predict continuation tokens go through the output head.

use crate::eval::{LogLikelihood, Request, Scorer};
use crate::model::error::ModelError;
use crate::model::score::score_batch;
use crate::nn::Llama;

/// Scores requests with a loaded model (base, or base + adapter).
pub struct ModelScorer<'m> {
    model: &'m Llama,
    /// Upper bound on padded tokens per forward pass; keeps activations small on CPU.
    token_budget: usize,
}

impl<'m> ModelScorer<'m> {
    /// A scorer over `model` with a default batch budget of 2048 padded tokens.
    pub fn new(model: &'m Llama) -> Self {
        ModelScorer {
            model,
            token_budget: 2048,
        }
    }

    /// Sets the padded-token budget of one forward pass.
    pub fn with_token_budget(mut self, tokens: usize) -> Self {
        self.token_budget = tokens.max(1);
        self
    }
}

impl Scorer for ModelScorer<'_> {
    type Error = ModelError;

    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, ModelError> {
        let max_len = self.model.max_seq_len();
        // lm-evaluation-harness keeps the last `max_len + 1` tokens of context + continuation.
        let inputs: Vec<(Vec<u32>, &[u32])> = requests
            .iter()
            .map(|r| {
                let whole = r.context.len() + r.continuation.len();
                let keep_ctx = r
                    .context
                    .len()
                    .saturating_sub(whole.saturating_sub(max_len + 1));
                let ctx = r.context[r.context.len() - keep_ctx..].to_vec();
                (ctx, r.continuation.as_slice())
            })
            .collect();
        // Longest first so each batch pads little; answers go back in request order.
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].0.len() + inputs[i].1.len()));
        let mut out = vec![
            LogLikelihood {
                logprob: 0.0,
                is_greedy: false
            };
            requests.len()
        ];
        let mut start = 0;
        while start < order.len() {
            let width = inputs[order[start]].0.len() + inputs[order[start]].1.len();
            let rows = (self.token_budget / width.max(1)).max(1);
            let batch = &order[start..(start + rows).min(order.len())];
            let pairs: Vec<(&[u32], &[u32])> = batch
                .iter()
                .map(|&i| (inputs[i].0.as_slice(), inputs[i].1))
                .collect();
            for (&i, score) in batch.iter().zip(score_batch(self.model, &pairs)?) {
                out[i] = LogLikelihood {
                    logprob: score.sum,
                    is_greedy: score.greedy,
                };
            }
            start += batch.len();
        }
        Ok(out)
    }
}
