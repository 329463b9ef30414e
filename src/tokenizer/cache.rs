//! A bounded cache of word → token ids shared by encoding threads.
//!
//! Natural text repeats a small set of words, so caching the BPE result per pre-token makes
//! encoding a corpus several times faster. A thread that finds the cache locked skips it rather
//! than wait: the cache is an accelerator, never a point of contention.

use std::sync::Mutex;

use super::fx::FxHashMap;

/// Entries kept before the cache is flushed (bounded memory on adversarial input).
const CAPACITY: usize = 1 << 17;
/// Longer words are not cached: they rarely repeat.
const MAX_WORD: usize = 64;

/// Word → ids.
#[derive(Debug, Default)]
pub(crate) struct WordCache {
    map: Mutex<FxHashMap<Box<str>, Box<[u32]>>>,
}

impl WordCache {
    /// Appends the ids of `word` to `out`, computing them with `encode` on a miss.
    pub fn encode_into(
        &self,
        word: &str,
        out: &mut Vec<u32>,
        encode: impl FnOnce(&str, &mut Vec<u32>),
    ) {
        if word.len() > MAX_WORD {
            encode(word, out);
            return;
        }
        if let Ok(map) = self.map.try_lock()
            && let Some(ids) = map.get(word)
        {
            out.extend_from_slice(ids);
            return;
        }
        let from = out.len();
        encode(word, out);
        if let Ok(mut map) = self.map.try_lock() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(word.into(), out[from..].into());
        }
    }
}

impl Clone for WordCache {
    fn clone(&self) -> Self {
        WordCache::default()
    }
}
