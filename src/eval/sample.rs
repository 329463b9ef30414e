//! `limit = N`: which documents of a task are scored.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index;

use super::doc::Doc;

/// FNV-1a of the task name, so every task draws its own sample from one run seed.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Keeps at most `limit` documents: the first ones without a seed (lm-evaluation-harness `--limit`),
/// a uniform sample without replacement with one (kept in document order, reproducible per task).
pub fn select(task: &str, docs: Vec<Doc>, limit: Option<usize>, seed: Option<u64>) -> Vec<Doc> {
    let Some(limit) = limit else { return docs };
    if limit >= docs.len() {
        return docs;
    }
    let Some(seed) = seed else {
        return docs.into_iter().take(limit).collect();
    };
    let mut rng = StdRng::seed_from_u64(seed ^ name_hash(task));
    let mut keep = index::sample(&mut rng, docs.len(), limit).into_vec();
    keep.sort_unstable();
    let mut keep = keep.into_iter().peekable();
    docs.into_iter()
        .enumerate()
        .filter_map(|(i, d)| {
            if keep.peek() == Some(&i) {
                keep.next();
                Some(d)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::doc::Scoring;

    fn docs(n: usize) -> Vec<Doc> {
        (0..n)
            .map(|id| Doc {
                id,
                context: String::new(),
                continuations: vec![],
                scoring: Scoring::Greedy,
            })
            .collect()
    }

    fn ids(d: &[Doc]) -> Vec<usize> {
        d.iter().map(|d| d.id).collect()
    }

    #[test]
    fn limit_without_seed_takes_the_first_documents() {
        assert_eq!(ids(&select("t", docs(10), Some(3), None)), [0, 1, 2]);
        assert_eq!(select("t", docs(10), None, Some(1)).len(), 10);
        assert_eq!(select("t", docs(2), Some(5), Some(1)).len(), 2);
    }

    #[test]
    fn seeded_sample_is_reproducible_sorted_and_task_specific() {
        let a = ids(&select("t", docs(1000), Some(20), Some(7)));
        assert_eq!(a, ids(&select("t", docs(1000), Some(20), Some(7))));
        assert_eq!(a.len(), 20);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(a, (0..20).collect::<Vec<_>>());
        assert_ne!(a, ids(&select("u", docs(1000), Some(20), Some(7))));
        assert_ne!(a, ids(&select("t", docs(1000), Some(20), Some(8))));
    }
}
