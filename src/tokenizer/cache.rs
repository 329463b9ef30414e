//! A bounded cache of word → token ids shared by encoding threads.
//!
//! Natural text repeats a small set of words, so caching the BPE result per pre-token makes
//! encoding a corpus several times faster. The map is split into shards by hash so that threads
//! rarely meet, and a thread that finds its shard locked skips the cache rather than wait: the
//! cache is an accelerator, never a point of contention.

use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::Mutex;

use super::fx::{FxHashMap, FxHasher};

/// Entries kept per shard before it is flushed (bounded memory on adversarial input).
const SHARD_CAPACITY: usize = 1 << 14;
/// Number of shards (a power of two).
const SHARDS: usize = 16;
/// Longer words are not cached: they rarely repeat.
const MAX_WORD: usize = 64;

type Shard = Mutex<FxHashMap<Box<str>, Box<[u32]>>>;

/// Word → ids.
#[derive(Debug, Default)]
pub(crate) struct WordCache {
    shards: [Shard; SHARDS],
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
        let hash = BuildHasherDefault::<FxHasher>::default().hash_one(word);
        let shard = &self.shards[(hash >> 59) as usize % SHARDS];
        if let Ok(map) = shard.try_lock()
            && let Some(ids) = map.get(word)
        {
            out.extend_from_slice(ids);
            return;
        }
        let from = out.len();
        encode(word, out);
        if let Ok(mut map) = shard.try_lock() {
            if map.len() >= SHARD_CAPACITY {
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
