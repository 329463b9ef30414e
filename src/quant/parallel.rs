//! Chunk-parallel loops over disjoint slices with scoped threads (no per-element work queue).

/// Elements below which threads cost more than they save.
const MIN_PARALLEL_ELEMENTS: usize = 1 << 16;

/// The number of chunks to cut `n` elements into: one per core for large tensors, else one.
pub fn worker_count(n: usize) -> usize {
    if n < MIN_PARALLEL_ELEMENTS {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |p| p.get())
}

/// Runs `f` on every item, the first on this thread and the rest on scoped threads; returns the
/// smallest `Some` any call returned.
pub fn for_each_chunk<I, T, F>(items: I, f: F) -> Option<usize>
where
    I: IntoIterator<Item = T>,
    T: Send,
    F: Fn(T) -> Option<usize> + Sync,
{
    let mut items = items.into_iter();
    let first = items.next()?;
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = items.map(|item| s.spawn(move || f(item))).collect();
        let mut found = f(first);
        for h in handles {
            // A panicking worker is a bug in this module, not bad input: re-raise it.
            let r = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            found = match (found, r) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        found
    })
}
