//! The model side of evaluation: a [`Scorer`] answers batches of log-likelihood requests.

use std::ops::Range;
use std::sync::Arc;

use super::request::{LogLikelihood, Request};

/// Anything that can score continuations: the base model, base + adapter, or a test double.
pub trait Scorer {
    /// The model's own diagnostic type.
    type Error: miette::Diagnostic + Send + Sync + 'static;

    /// Scores every request, returning one answer per request in the same order.
    ///
    /// Requests of one document are adjacent and share their `context` allocation;
    /// [`context_groups`] finds the runs, so a model can run each context once (for instance
    /// with a KV cache, or by scoring all continuations of a group in one padded batch).
    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, Self::Error>;
}

/// Ranges of adjacent requests that share one context.
pub fn context_groups(requests: &[Request]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        match out.last_mut() {
            Some(last)
                if requests.get(last.start).is_some_and(|first| {
                    Arc::ptr_eq(&first.context, &r.context) || first.context == r.context
                }) =>
            {
                last.end = i + 1
            }
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Length of the token prefix shared by every request's context + continuation.
///
/// TruthfulQA's six-question primer (about 190 tokens) and MMLU's few-shot block start every context
/// of their task, so a scorer can run that prefix once per call and reuse its key/value cache.
pub fn shared_prefix_len(requests: &[Request]) -> usize {
    let Some(first) = requests.first() else {
        return 0;
    };
    let whole =
        |r: &Request| -> Vec<u32> { r.context.iter().chain(&r.continuation).copied().collect() };
    let base = whole(first);
    // Never the whole sequence: the last token of each request is not an input.
    let mut len = base.len().saturating_sub(1);
    for r in &requests[1..] {
        let other = whole(r);
        let common = base.iter().zip(&other).take_while(|(a, b)| a == b).count();
        len = len.min(common).min(other.len().saturating_sub(1));
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_adjacent_requests_with_the_same_context() {
        let a: Arc<[u32]> = Arc::from(vec![1, 2]);
        let b: Arc<[u32]> = Arc::from(vec![3]);
        let req = |c: &Arc<[u32]>, k: u32| Request {
            context: c.clone(),
            continuation: vec![k],
        };
        let reqs = [req(&a, 5), req(&a, 6), req(&b, 7), req(&a, 8)];
        assert_eq!(context_groups(&reqs), vec![0..2, 2..3, 3..4]);
        assert!(context_groups(&[]).is_empty());
    }

    #[test]
    fn shared_prefix_spans_contexts_and_stops_before_the_last_token() {
        let req = |c: Vec<u32>, k: Vec<u32>| Request {
            context: Arc::from(c),
            continuation: k,
        };
        let reqs = [
            req(vec![1, 2, 3, 4], vec![9]),
            req(vec![1, 2, 3, 5], vec![8, 7]),
            req(vec![1, 2, 3], vec![4]),
        ];
        assert_eq!(shared_prefix_len(&reqs), 3);
        assert_eq!(shared_prefix_len(&reqs[..1]), 4);
        assert_eq!(
            shared_prefix_len(&[req(vec![1], vec![2]), req(vec![1, 2], vec![3])]),
            1
        );
        assert_eq!(shared_prefix_len(&[]), 0);
    }
}
