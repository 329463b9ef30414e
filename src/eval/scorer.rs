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
}
