//! Hyper-parameters of a Llama-family decoder.

use burn::config::Config;

/// How rotary frequencies are rescaled for long contexts (HF `rope_scaling`).
#[derive(Config, Debug, PartialEq)]
pub enum RopeScaling {
    /// Positions divided by `factor` (HF `rope_type: linear`).
    Linear {
        /// Position divisor.
        factor: f64,
    },
    /// Llama 3.1 frequency-band scaling (HF `rope_type: llama3`).
    Llama3 {
        /// Scale applied to low frequencies.
        factor: f64,
        /// Wavelength band start, as a fraction of the original context.
        low_freq_factor: f64,
        /// Wavelength band end, as a fraction of the original context.
        high_freq_factor: f64,
        /// Context length the model was pre-trained with.
        original_max_position_embeddings: usize,
    },
}

/// Shape and constants of a Llama-architecture decoder (Llama 2/3, SmolLM2, TinyLlama, …).
#[derive(Config, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Number of token embeddings.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_layers: usize,
    /// Number of query heads.
    pub num_heads: usize,
    /// Number of key/value heads (grouped-query attention when fewer than `num_heads`).
    pub num_kv_heads: usize,
    /// Width of each head.
    pub head_dim: usize,
    /// Rotary base frequency θ.
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// Optional rotary rescaling.
    #[config(default = "None")]
    pub rope_scaling: Option<RopeScaling>,
    /// RMSNorm epsilon.
    #[config(default = 1e-5)]
    pub rms_norm_eps: f64,
    /// Longest sequence the rotary tables cover.
    #[config(default = 2048)]
    pub max_seq_len: usize,
    /// Whether the output head reuses the token embedding.
    #[config(default = true)]
    pub tie_word_embeddings: bool,
}

impl LlamaConfig {
    /// Problems that would make the shapes inconsistent, as sentences; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("num_kv_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("max_seq_len", self.max_seq_len),
        ];
        for (name, v) in positive {
            if v == 0 {
                out.push(format!("`{name}` is 0"));
            }
        }
        if self.num_kv_heads != 0 && !self.num_heads.is_multiple_of(self.num_kv_heads) {
            out.push(format!(
                "`num_heads` ({}) is not a multiple of `num_kv_heads` ({})",
                self.num_heads, self.num_kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            out.push(format!(
                "`head_dim` ({}) is odd; rotary needs pairs",
                self.head_dim
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            out.push(format!(
                "`rope_theta` ({}) must be finite and > 1",
                self.rope_theta
            ));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps >= 0.0) {
            out.push(format!(
                "`rms_norm_eps` ({}) must be finite and ≥ 0",
                self.rms_norm_eps
            ));
        }
        out
    }

    /// Parameter count of the decoder (the tied head counted once).
    pub fn num_params(&self) -> usize {
        let (h, f) = (self.hidden_size, self.intermediate_size);
        let q = self.num_heads * self.head_dim;
        let kv = self.num_kv_heads * self.head_dim;
        let attn = h * q + 2 * h * kv + q * h;
        let block = attn + 3 * h * f + 2 * h;
        let head = if self.tie_word_embeddings {
            0
        } else {
            self.vocab_size * h
        };
        self.vocab_size * h + self.num_layers * block + h + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_transformers() {
        // ../shared/golden/param_counts/param_counts.json (meta-device LlamaForCausalLM).
        let llama2 =
            LlamaConfig::new(32000, 4096, 11008, 32, 32, 32, 128).with_tie_word_embeddings(false);
        assert_eq!(llama2.num_params(), 6_738_415_616);
        let tiny = LlamaConfig::new(256, 64, 128, 2, 4, 2, 16).with_tie_word_embeddings(false);
        assert_eq!(tiny.num_params(), 106_816);
    }

    #[test]
    fn problems_are_all_listed() {
        let c = LlamaConfig::new(0, 64, 128, 2, 4, 3, 15).with_rope_theta(f64::NAN);
        let p = c.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p.iter().any(|s| s.contains("vocab_size")));
        assert!(p.iter().any(|s| s.contains("num_kv_heads")));
        assert!(p.iter().any(|s| s.contains("odd")));
        assert!(p.iter().any(|s| s.contains("rope_theta")));
    }
}
