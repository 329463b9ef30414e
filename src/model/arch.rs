//! Model architectures without weights: the built-in table, HF `config.json`, GGUF headers.
//!
//! The one reader of a checkpoint's shape: `lpipe plan` counts parameters and memory from an
//! [`Arch`] without loading weights, and the loader builds its runtime configuration from the
//! same [`Reading`] (`model::config`), so the two never disagree about a file. The GGUF side
//! reads keys through the [`GgufHeader`] trait, which keeps this module independent of the
//! GGUF parser.

use std::path::Path;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};

pub use crate::nn::config::RopeScaling;

mod error;
mod gguf;
mod hf;

pub use error::ArchError;
pub use gguf::{GgufHeader, GgufScalar};

/// A Llama-family decoder's shape (HF `LlamaConfig` semantics).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    /// Rows of the token embedding (and of `lm_head`).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP (`gate_proj`/`up_proj` outputs).
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `num_heads`).
    pub num_kv_heads: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// Whether `lm_head` shares the token embedding's weight.
    pub tie_word_embeddings: bool,
    /// Longest context the position encoding was trained for.
    pub max_position_embeddings: usize,
    /// RoPE base frequency.
    pub rope_theta: f64,
    /// Epsilon of the RMS norms.
    pub rms_norm_eps: f64,
    /// Long-context rescaling of the rotary frequencies, if any.
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
}

/// An architecture as a file states it, before the checks that refuse it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The shape.
    pub arch: Arch,
    /// What the file asks for that lpipe cannot run (biases, another activation, an unknown
    /// rope scaling), as sentences; empty when it can run.
    pub problems: Vec<String>,
}

/// Built-in architectures: canonical name and shape (from each model's HF `config.json`).
const BUILTIN: &[(&str, Arch)] = &[
    (
        "llama2-7b",
        llama(32000, 4096, 11008, 32, 32, 32, false, 4096, 10_000.0),
    ),
    (
        "llama2-13b",
        llama(32000, 5120, 13824, 40, 40, 40, false, 4096, 10_000.0),
    ),
    (
        "llama2-70b",
        llama(32000, 8192, 28672, 80, 64, 8, false, 4096, 10_000.0),
    ),
    (
        "tinyllama-1.1b",
        llama(32000, 2048, 5632, 22, 32, 4, false, 2048, 10_000.0),
    ),
    (
        "smollm2-135m",
        llama(49152, 576, 1536, 30, 9, 3, true, 8192, 100_000.0),
    ),
    (
        "smollm2-360m",
        llama(49152, 960, 2560, 32, 15, 5, true, 8192, 100_000.0),
    ),
    (
        "smollm2-1.7b",
        llama(49152, 2048, 8192, 24, 32, 32, true, 8192, 130_000.0),
    ),
    // The golden LoRA-step model (../shared/golden/lora_step/lora_step.json `model_config`).
    ("tiny", llama(256, 64, 128, 2, 4, 2, false, 128, 10_000.0)),
];

/// A table row; every built-in model uses `head_dim = hidden / heads` and `rms_norm_eps = 1e-5`.
#[allow(clippy::too_many_arguments)]
const fn llama(
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_layers: usize,
    num_heads: usize,
    num_kv_heads: usize,
    tie_word_embeddings: bool,
    max_position_embeddings: usize,
    rope_theta: f64,
) -> Arch {
    Arch {
        vocab_size,
        hidden_size,
        intermediate_size,
        num_layers,
        num_heads,
        num_kv_heads,
        head_dim: hidden_size / num_heads,
        tie_word_embeddings,
        max_position_embeddings,
        rope_theta,
        rms_norm_eps: 1e-5,
        rope_scaling: None,
    }
}

/// Lowercase with separators removed, so `Llama-2_7B` and `llama2-7b` compare equal.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

impl Arch {
    /// The canonical names of the built-in table.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(name, _)| *name)
    }

    /// Looks a name up in the built-in table (`_`, `-`, `.` and case are ignored).
    pub fn builtin(name: &str) -> Result<Arch, ArchError> {
        let wanted = normalize(name);
        if let Some((_, arch)) = BUILTIN.iter().find(|(n, _)| normalize(n) == wanted) {
            return Ok(arch.clone());
        }
        let closest = Arch::builtin_names()
            .map(|n| (strsim::jaro_winkler(&normalize(n), &wanted), n))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let help = match closest {
            Some((score, n)) if score > 0.85 => format!("did you mean `{n}`?"),
            _ => format!(
                "known architectures: {}; or give a checkpoint's `config.json` or GGUF file",
                Arch::builtin_names().collect::<Vec<_>>().join(", ")
            ),
        };
        Err(ArchError::UnknownBuiltin {
            name: name.to_string(),
            help,
        })
    }

    /// Output width of `q_proj` (input width of `o_proj`).
    pub fn q_dim(&self) -> usize {
        self.num_heads * self.head_dim
    }

    /// Output width of `k_proj` and `v_proj`.
    pub fn kv_dim(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }

    /// Reads a Hugging Face `config.json` (a file, or a directory containing one).
    pub fn from_hf_config(path: &Path) -> Result<Arch, ArchError> {
        let file = if path.is_dir() {
            path.join("config.json")
        } else {
            path.to_path_buf()
        };
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| ArchError::Read {
            path: name.clone(),
            message: e.to_string(),
        })?;
        Arch::from_hf_config_str(&text, &name)
    }

    /// Parses the text of a Hugging Face `config.json`; `name` labels diagnostics.
    pub fn from_hf_config_str(text: &str, name: &str) -> Result<Arch, ArchError> {
        hf::parse(text, name)
    }

    /// Reads a `config.json` text without refusing what lpipe cannot run: the loader lists
    /// those problems together with its own (`E310`).
    pub fn read_hf_config_str(text: &str, name: &str) -> Result<Reading, ArchError> {
        hf::read(text, name)
    }

    /// Reads the `llama.*` keys of a GGUF header; `name` labels diagnostics.
    ///
    /// The vocabulary is `llama.vocab_size`, else the rows of `token_embd.weight`, else the
    /// length of `tokenizer.ggml.tokens`; embeddings are tied exactly when the file has no
    /// `output.weight` tensor.
    pub fn from_gguf(header: &dyn GgufHeader, name: &str) -> Result<Arch, ArchError> {
        let reading = gguf::read(header, name)?;
        reading
            .arch
            .check_heads(name, "llama.attention.head_count_kv", None, None)?;
        reading.refuse_problems(name)
    }

    /// Reads a GGUF header without refusing what lpipe cannot run (see
    /// [`Arch::read_hf_config_str`]).
    pub fn read_gguf(header: &dyn GgufHeader, name: &str) -> Result<Reading, ArchError> {
        gguf::read(header, name)
    }

    /// Rejects head counts that cannot form grouped-query attention.
    fn check_heads(
        &self,
        name: &str,
        field: &str,
        src: Option<Arc<NamedSource<String>>>,
        span: Option<SourceSpan>,
    ) -> Result<(), ArchError> {
        if self.num_kv_heads > 0
            && self.num_heads.is_multiple_of(self.num_kv_heads)
            && self.head_dim > 0
        {
            return Ok(());
        }
        Err(ArchError::Invalid {
            source_name: name.to_string(),
            field: field.to_string(),
            problem: format!(
                "is {} but {} query heads are not a multiple of it (head_dim {})",
                self.num_kv_heads, self.num_heads, self.head_dim
            ),
            help: "grouped-query attention needs num_attention_heads divisible by \
                   num_key_value_heads",
            src,
            span,
        })
    }
}

impl Reading {
    /// The architecture when nothing in it is unsupported, else `E207` listing every problem.
    fn refuse_problems(self, name: &str) -> Result<Arch, ArchError> {
        if self.problems.is_empty() {
            return Ok(self.arch);
        }
        Err(ArchError::Unrunnable {
            source_name: name.to_string(),
            problems: self.problems.join("; "),
        })
    }
}

/// Saturates instead of truncating on 32-bit targets (such sizes fail later, loudly).
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_accept_variants() {
        let a = Arch::builtin("Llama_2-7B").expect("variant spelling");
        assert_eq!(a, Arch::builtin("llama2-7b").expect("canonical"));
        assert_eq!(a.head_dim, 128);
        assert!(Arch::builtin("smollm2_1.7b").is_ok());
        assert!(
            Arch::builtin("SmolLM2-135M")
                .expect("case")
                .tie_word_embeddings
        );
    }

    #[test]
    fn unknown_builtin_suggests() {
        match Arch::builtin("llama2-8b") {
            Err(ArchError::UnknownBuiltin { help, .. }) => assert!(help.contains("did you mean")),
            other => panic!("expected UnknownBuiltin, got {other:?}"),
        }
        match Arch::builtin("gpt2") {
            Err(ArchError::UnknownBuiltin { help, .. }) => assert!(help.contains("tinyllama")),
            other => panic!("expected UnknownBuiltin, got {other:?}"),
        }
    }
}
