//! The Burn model as an evaluation [`Scorer`]. Work is shared the way the requests share text:
//! the prefix common to a whole call (TruthfulQA's six-question primer, MMLU's few-shot block) runs
//! once, each document's context runs once on a copy of that cache, and all continuations of a
//! document run as one right-padded batch on copies of the context's cache. Only positions that
//! predict continuation tokens go through the output head. The shared prefix's cache is kept between
//! calls, so a primer common to every call of a task (and to the next task) runs once per stage.

use burn::tensor::{Int, Tensor, TensorData};

use crate::eval::{LogLikelihood, Request, Scorer, context_groups, shared_prefix_len};
use crate::model::error::ModelError;
use crate::model::score::{check_ids, log_prob, score_batch};
use crate::nn::{KvCache, Llama};

/// Scores requests with a loaded model (base, or base + adapter).
pub struct ModelScorer<'m> {
    model: &'m Llama,
    /// The last call's shared prefix and its cache.
    prefix: Option<(Vec<u32>, KvCache)>,
}

impl<'m> ModelScorer<'m> {
    /// A scorer over `model` (call `valid()` on a training model first).
    pub fn new(model: &'m Llama) -> Self {
        ModelScorer {
            model,
            prefix: None,
        }
    }
}

impl Scorer for ModelScorer<'_> {
    type Error = ModelError;

    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, ModelError> {
        let max_len = self.model.max_seq_len();
        let fits = |r: &Request| r.context.len() + r.continuation.len() <= max_len + 1;
        if requests
            .iter()
            .any(|r| !fits(r) || r.context.is_empty() || r.continuation.is_empty())
        {
            return self.unshared(requests);
        }
        for r in requests {
            check_ids(self.model, &r.context)?;
            check_ids(self.model, &r.continuation)?;
        }
        // Keep at least one context token per document so its last position is computed here.
        let min_ctx = requests.iter().map(|r| r.context.len()).min().unwrap_or(1);
        let prefix = shared_prefix_len(requests).min(min_ctx - 1);
        let base = match requests.first() {
            Some(first) => self.prefix_cache(&first.context[..prefix]),
            None => self.model.new_cache(),
        };
        let groups = context_groups(requests);
        if flat_is_cheaper(requests, &groups, prefix) {
            return self.flat(requests, prefix, &base);
        }
        let mut out = Vec::with_capacity(requests.len());
        for group in groups {
            out.extend(self.group(&requests[group], prefix, &base)?);
        }
        Ok(out)
    }
}

/// A forward pass costs about this many tokens' worth of work before its first token: every weight
/// is read once per pass, however few rows it multiplies (measured on the CPU with SmolLM2-135M).
const PASS_COST_TOKENS: usize = 32;

/// Whether one padded batch of whole requests beats a context pass plus a continuation pass per
/// document: true for many short documents (arithmetic), false when contexts are long and shared
/// by many continuations (TruthfulQA, MMLU), where the padding would repeat each context.
fn flat_is_cheaper(requests: &[Request], groups: &[std::ops::Range<usize>], prefix: usize) -> bool {
    let row = |r: &Request| r.context.len() - prefix + r.continuation.len() - 1;
    let width = requests.iter().map(row).max().unwrap_or(0);
    let flat = requests.len() * width + PASS_COST_TOKENS;
    let grouped: usize = groups
        .iter()
        .map(|g| {
            let reqs = &requests[g.clone()];
            let ctx = reqs.first().map_or(0, |r| r.context.len() - prefix);
            let cont = reqs
                .iter()
                .map(|r| r.continuation.len() - 1)
                .max()
                .unwrap_or(0);
            let passes = if cont > 0 { 2 } else { 1 };
            ctx + reqs.len() * cont + passes * PASS_COST_TOKENS
        })
        .sum();
    flat < grouped
}

impl ModelScorer<'_> {
    /// The cache after `ids`, reusing as much of the previous call's prefix as agrees with it.
    fn prefix_cache(&mut self, ids: &[u32]) -> KvCache {
        let (mut cache, done) = match &self.prefix {
            Some((old, cache)) => {
                let common = old.iter().zip(ids).take_while(|(a, b)| a == b).count();
                (cache.truncated(common), common)
            }
            None => (self.model.new_cache(), 0),
        };
        if done == 0 {
            cache = self.model.new_cache();
        }
        if ids.len() > done {
            let rest = &ids[done..];
            self.model
                .forward_hidden(self.ids(rest, 1, rest.len()), Some(&mut cache));
        }
        self.prefix = Some((ids.to_vec(), cache.clone()));
        cache
    }

    /// Requests sharing one context: the context once, then every continuation in one batch.
    fn group(
        &self,
        reqs: &[Request],
        prefix: usize,
        base: &KvCache,
    ) -> Result<Vec<LogLikelihood>, ModelError> {
        let ctx = &reqs[0].context[prefix..];
        let mut cache = base.clone();
        let hidden = self
            .model
            .forward_hidden(self.ids(ctx, 1, ctx.len()), Some(&mut cache));
        let [_, s, d] = hidden.dims();
        let last = self
            .model
            .lm_head
            .forward(hidden.slice([0..1, s - 1..s, 0..d]).reshape([1, d]));
        let first_row = read(last)?;
        let mut answers: Vec<(f64, bool)> = reqs
            .iter()
            .map(|r| log_prob(&first_row, r.continuation[0] as usize))
            .collect();

        // Continuation tokens after the first, predicted by the continuation's own positions.
        let width = reqs
            .iter()
            .map(|r| r.continuation.len() - 1)
            .max()
            .unwrap_or(0);
        if width > 0 {
            let n = reqs.len();
            let mut ids = Vec::with_capacity(n * width);
            let mut rows = Vec::new();
            for (i, r) in reqs.iter().enumerate() {
                let fed = &r.continuation[..r.continuation.len() - 1];
                ids.extend(fed.iter().chain(std::iter::repeat_n(&0, width - fed.len())));
                rows.extend((0..fed.len()).map(|j| (i * width + j) as i64));
            }
            let (logits, vocab) = self.head_rows(&ids, n, width, &cache, rows)?;
            let mut row = 0;
            for (i, r) in reqs.iter().enumerate() {
                for &tok in &r.continuation[1..] {
                    let (lp, top) = log_prob(&logits[row * vocab..(row + 1) * vocab], tok as usize);
                    answers[i].0 += lp;
                    answers[i].1 &= top;
                    row += 1;
                }
            }
        }
        Ok(answers
            .into_iter()
            .map(|(logprob, is_greedy)| LogLikelihood { logprob, is_greedy })
            .collect())
    }

    /// Runs `ids` (`n` right-padded rows of `width`) on copies of `cache` and returns the logits of
    /// the flat positions `rows` (row-major, `rows.len()` × vocabulary) and the vocabulary size.
    fn head_rows(
        &self,
        ids: &[u32],
        n: usize,
        width: usize,
        cache: &KvCache,
        rows: Vec<i64>,
    ) -> Result<(Vec<f32>, usize), ModelError> {
        let mut batch = broadcast(cache, n);
        let hidden = self
            .model
            .forward_hidden(self.ids(ids, n, width), Some(&mut batch));
        let [_, _, d] = hidden.dims();
        let count = rows.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [count]), &hidden.device());
        let picked = hidden.reshape([n * width, d]).select(0, index);
        let logits = read(self.model.lm_head.forward(picked))?;
        let vocab = logits.len() / count.max(1);
        Ok((logits, vocab))
    }

    /// Every request as one row of a right-padded batch on top of the shared prefix.
    fn flat(
        &self,
        reqs: &[Request],
        prefix: usize,
        base: &KvCache,
    ) -> Result<Vec<LogLikelihood>, ModelError> {
        let n = reqs.len();
        let row = |r: &Request| r.context.len() - prefix + r.continuation.len() - 1;
        let width = reqs.iter().map(row).max().unwrap_or(0);
        if n == 0 || width == 0 {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(n * width);
        let mut rows = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            let fed = r.context[prefix..]
                .iter()
                .chain(&r.continuation[..r.continuation.len() - 1]);
            ids.extend(fed.chain(std::iter::repeat(&0)).take(width));
            // Position p predicts token p + 1: the last context position predicts the first
            // continuation token.
            let first = r.context.len() - prefix - 1;
            rows.extend((first..first + r.continuation.len()).map(|j| (i * width + j) as i64));
        }
        let (logits, vocab) = self.head_rows(&ids, n, width, base, rows)?;
        let mut out = Vec::with_capacity(n);
        let mut at = 0;
        for r in reqs {
            let (mut logprob, mut is_greedy) = (0.0, true);
            for &tok in &r.continuation {
                let (lp, top) = log_prob(&logits[at * vocab..(at + 1) * vocab], tok as usize);
                logprob += lp;
                is_greedy &= top;
                at += 1;
            }
            out.push(LogLikelihood { logprob, is_greedy });
        }
        Ok(out)
    }

    /// Requests that need the harness's left truncation: scored one padded batch at a time.
    fn unshared(&self, requests: &[Request]) -> Result<Vec<LogLikelihood>, ModelError> {
        let max_len = self.model.max_seq_len();
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let (input, first) = r.model_input(max_len);
            let ctx = &input[..first + 1];
            let score = score_batch(self.model, &[(ctx, &r.continuation)])?;
            let s = score.first().ok_or_else(|| ModelError::Input {
                what: "nothing was scored".into(),
            })?;
            out.push(LogLikelihood {
                logprob: s.sum,
                is_greedy: s.greedy,
            });
        }
        Ok(out)
    }

    fn ids(&self, ids: &[u32], rows: usize, len: usize) -> Tensor<2, Int> {
        let data: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        Tensor::from_data(
            TensorData::new(data, [rows, len]),
            &self.model.embed_tokens.device(),
        )
    }
}

/// The cache of one sequence repeated for `n` rows.
fn broadcast(cache: &KvCache, n: usize) -> KvCache {
    let mut out = cache.clone();
    for layer in &mut out.layers {
        layer.k = layer.k.take().map(|k| k.repeat_dim(0, n));
        layer.v = layer.v.take().map(|v| v.repeat_dim(0, n));
    }
    out
}

fn read(t: Tensor<2>) -> Result<Vec<f32>, ModelError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| ModelError::Input {
            what: format!("cannot read logits: {e:?}"),
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use burn::tensor::Device;

    use super::*;
    use crate::model::score::score;
    use crate::nn::LlamaConfig;
    use crate::nn::init::InitOptions;

    fn request(context: &[u32], continuation: &[u32]) -> Request {
        Request {
            context: Arc::from(context),
            continuation: continuation.to_vec(),
        }
    }

    /// Calls whose shared prefixes grow, shrink, change and vanish give what scoring each request
    /// alone gives: the kept prefix cache never leaks into a call it does not belong to.
    #[test]
    fn the_prefix_kept_between_calls_changes_no_score() {
        let config = LlamaConfig::new(50, 32, 48, 2, 4, 2, 8).with_max_seq_len(32);
        let model = config.init_random(InitOptions { native_gqa: true }, &Device::flex());
        let calls = vec![
            vec![
                request(&[1, 2, 3, 4, 5, 6], &[7, 8]),
                request(&[1, 2, 3, 4, 9], &[10]),
            ],
            // Same primer, longer common part.
            vec![
                request(&[1, 2, 3, 4, 5, 11], &[12, 13, 14]),
                request(&[1, 2, 3, 4, 5, 11], &[15]),
            ],
            // Shorter common part.
            vec![request(&[1, 2, 20], &[21]), request(&[1, 2, 22, 23], &[24])],
            // Nothing in common with the last call.
            vec![request(&[30, 31, 32], &[33]), request(&[30, 34], &[35, 36])],
            vec![request(&[1], &[2, 3])],
        ];
        let mut scorer = ModelScorer::new(&model);
        for call in &calls {
            let auto = scorer.loglikelihood(call).unwrap();
            // Both strategies, whichever the cost model picked.
            let min_ctx = call.iter().map(|r| r.context.len()).min().unwrap();
            let prefix = shared_prefix_len(call).min(min_ctx - 1);
            let base = scorer.prefix_cache(&call[0].context[..prefix]);
            let flat = scorer.flat(call, prefix, &base).unwrap();
            let mut grouped = Vec::new();
            for g in context_groups(call) {
                grouped.extend(scorer.group(&call[g], prefix, &base).unwrap());
            }
            for (r, g) in call
                .iter()
                .cycle()
                .zip(auto.iter().chain(&flat).chain(&grouped))
            {
                let want = score(&model, &r.context, &r.continuation).unwrap();
                // Same arithmetic up to the order of f32 sums in attention and matmuls.
                assert!(
                    (g.logprob - want.sum).abs() < 1e-4,
                    "{r:?}: {g:?} vs {want:?}"
                );
                assert_eq!(g.is_greedy, want.greedy, "{r:?}");
            }
        }
    }
}
