//! The BPE merge loop shared by SentencePiece and byte-level BPE.
//!
//! Symbols form a doubly linked list over a word; candidate pairs sit in a max-heap keyed by
//! (priority, leftmost position). Stale candidates (one side already merged away) are skipped when
//! popped. This is the algorithm of SentencePiece's `bpe_model.cc` and HF `tokenizers`' `Word::merge_all`:
//! O(n log n) per word instead of the O(n²) rescans of the textbook loop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One symbol of a word being merged: a byte range of the word plus its current token id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol {
    /// First byte in the word.
    pub start: u32,
    /// Length in bytes; 0 once merged into its left neighbour.
    pub len: u32,
    /// Token id (callers that look pairs up by text may leave it at 0).
    pub id: u32,
    /// Never merges with a neighbour (SentencePiece user-defined symbols).
    pub frozen: bool,
    prev: u32,
    next: u32,
}

const NONE: u32 = u32::MAX;

/// A list of symbols being merged.
#[derive(Debug, Default)]
pub(crate) struct Word {
    symbols: Vec<Symbol>,
    /// (priority, leftmost first, right index, merged id, merged byte length).
    heap: BinaryHeap<(u64, Reverse<u32>, u32, u32, u32)>,
}

impl Word {
    /// Empties the word for reuse (keeps the allocations).
    pub fn clear(&mut self) {
        self.symbols.clear();
        self.heap.clear();
    }

    /// Appends a symbol covering `start..start + len`.
    pub fn push(&mut self, start: usize, len: usize, id: u32, frozen: bool) {
        let index = self.symbols.len() as u32;
        if let Some(last) = self.symbols.last_mut() {
            last.next = index;
        }
        self.symbols.push(Symbol {
            start: start as u32,
            len: len as u32,
            id,
            frozen,
            prev: if index == 0 { NONE } else { index - 1 },
            next: NONE,
        });
    }

    /// Grows the last symbol by `len` bytes (HF `fuse_unk`: runs of unknown characters).
    pub fn extend_last(&mut self, len: usize) {
        if let Some(last) = self.symbols.last_mut() {
            last.len += len as u32;
        }
    }

    /// The last symbol pushed.
    pub fn last(&self) -> Option<&Symbol> {
        self.symbols.last()
    }

    /// Runs the merges. `rule(left, right)` returns `(priority, merged id)` when the pair may
    /// merge; higher priorities merge first, ties go to the leftmost pair.
    pub fn merge_all(&mut self, mut rule: impl FnMut(&Symbol, &Symbol) -> Option<(u64, u32)>) {
        self.heap.clear();
        for i in 1..self.symbols.len() {
            self.consider(i as u32 - 1, i as u32, &mut rule);
        }
        while let Some((_, Reverse(left), right, id, size)) = self.heap.pop() {
            let (l, r) = (self.symbols[left as usize], self.symbols[right as usize]);
            // Stale: a side vanished or grew since the pair was queued. `left` can only grow by
            // absorbing `right`, so equal total length means the same two byte ranges.
            if l.len == 0 || r.len == 0 || l.next != right || l.len + r.len != size {
                continue;
            }
            let merged = &mut self.symbols[left as usize];
            merged.len += r.len;
            merged.id = id;
            merged.next = r.next;
            self.symbols[right as usize].len = 0;
            if r.next != NONE {
                self.symbols[r.next as usize].prev = left;
            }
            let (prev, next) = (
                self.symbols[left as usize].prev,
                self.symbols[left as usize].next,
            );
            if prev != NONE {
                self.consider(prev, left, &mut rule);
            }
            if next != NONE {
                self.consider(left, next, &mut rule);
            }
        }
    }

    fn consider(
        &mut self,
        left: u32,
        right: u32,
        rule: &mut impl FnMut(&Symbol, &Symbol) -> Option<(u64, u32)>,
    ) {
        let (l, r) = (&self.symbols[left as usize], &self.symbols[right as usize]);
        if l.frozen || r.frozen {
            return;
        }
        if let Some((priority, id)) = rule(l, r) {
            self.heap
                .push((priority, Reverse(left), right, id, l.len + r.len));
        }
    }

    /// The surviving symbols, left to right.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        let mut at = if self.symbols.is_empty() { NONE } else { 0 };
        std::iter::from_fn(move || {
            if at == NONE {
                return None;
            }
            let s = &self.symbols[at as usize];
            at = s.next;
            Some(s)
        })
    }
}

/// Orders `f32` scores (higher first) as `u64` priorities.
pub(crate) fn score_priority(score: f32) -> u64 {
    let bits = score.to_bits();
    u64::from(if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    })
}

/// Orders merge ranks (lower first) as `u64` priorities.
pub(crate) fn rank_priority(rank: u32) -> u64 {
    u64::from(u32::MAX - rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_priority_preserves_order() {
        let scores = [-1e9f32, -3.5, -1.0, -0.0, 0.0, 0.5, 7.0];
        for w in scores.windows(2) {
            assert!(score_priority(w[0]) <= score_priority(w[1]), "{w:?}");
        }
        assert!(rank_priority(0) > rank_priority(1));
    }

    #[test]
    fn merges_lowest_rank_leftmost_first() {
        // "aaa" with the single merge a+a: the leftmost pair wins, leaving "aa" "a".
        let text = b"aaa";
        let mut w = Word::default();
        for i in 0..3 {
            w.push(i, 1, 0, false);
        }
        w.merge_all(|l, r| {
            let s = &text[l.start as usize..(r.start + r.len) as usize];
            (s == b"aa").then_some((rank_priority(0), 1))
        });
        let out: Vec<_> = w.symbols().map(|s| (s.start, s.len, s.id)).collect();
        assert_eq!(out, vec![(0, 2, 1), (2, 1, 0)]);
    }

    #[test]
    fn frozen_symbols_never_merge() {
        let mut w = Word::default();
        w.push(0, 1, 0, false);
        w.push(1, 1, 0, true);
        w.merge_all(|_, _| Some((1, 9)));
        assert_eq!(w.symbols().count(), 2);
    }
}
