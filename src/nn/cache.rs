//! Key/value cache for incremental decoding.

use burn::tensor::Tensor;

/// Keys and values seen so far by one attention layer, `[b, kv_heads, len, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    /// Cached keys (rotated).
    pub k: Option<Tensor<4>>,
    /// Cached values.
    pub v: Option<Tensor<4>>,
}

/// One [`LayerCache`] per decoder block, plus the number of positions already processed.
#[derive(Debug, Clone)]
pub struct KvCache {
    /// Per-layer caches.
    pub layers: Vec<LayerCache>,
    /// Positions already in the cache (the next token's position).
    pub len: usize,
}

impl KvCache {
    /// An empty cache for `num_layers` blocks.
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); num_layers],
            len: 0,
        }
    }

    /// The cache of the first `len` positions (`len` beyond the cache keeps it whole).
    pub fn truncated(&self, len: usize) -> Self {
        if len >= self.len {
            return self.clone();
        }
        let cut = |t: &Option<Tensor<4>>| {
            t.as_ref().map(|t| {
                let [b, h, _, d] = t.dims();
                t.clone().slice([0..b, 0..h, 0..len, 0..d])
            })
        };
        Self {
            layers: self
                .layers
                .iter()
                .map(|l| LayerCache {
                    k: cut(&l.k),
                    v: cut(&l.v),
                })
                .collect(),
            len,
        }
    }
}

impl LayerCache {
    /// Appends `k`, `v` along the sequence and returns the full keys and values.
    pub fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let k = match self.k.take() {
            Some(old) => Tensor::cat(vec![old, k], 2),
            None => k,
        };
        let v = match self.v.take() {
            Some(old) => Tensor::cat(vec![old, v], 2),
            None => v,
        };
        self.k = Some(k.clone());
        self.v = Some(v.clone());
        (k, v)
    }
}
