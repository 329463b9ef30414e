//! Reading an [`Arch`] from GGUF header keys, independent of the GGUF parser.

use super::{Arch, ArchError, Reading, RopeScaling, to_usize};

/// One scalar read from a GGUF header (arrays are reported by their length).
#[derive(Clone, Debug, PartialEq)]
pub enum GgufScalar {
    /// Any unsigned integer type.
    Uint(u64),
    /// Any signed integer type.
    Int(i64),
    /// `FLOAT32` or `FLOAT64`.
    Float(f64),
    /// `BOOL`.
    Bool(bool),
    /// `STRING`.
    Str(String),
    /// An `ARRAY` of this many elements.
    ArrayLen(u64),
}

impl std::fmt::Display for GgufScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GgufScalar::Uint(n) => write!(f, "{n}"),
            GgufScalar::Int(n) => write!(f, "{n}"),
            GgufScalar::Float(x) => write!(f, "{x:?} (a float)"),
            GgufScalar::Bool(b) => write!(f, "{b} (a boolean)"),
            GgufScalar::Str(s) => write!(f, "{s:?} (a string)"),
            GgufScalar::ArrayLen(n) => write!(f, "an array of {n}"),
        }
    }
}

/// Read access to a GGUF header: its key/value metadata and its tensor names.
pub trait GgufHeader {
    /// The value stored under `key`, if any.
    fn kv(&self, key: &str) -> Option<GgufScalar>;
    /// Whether the file holds a tensor named `name`.
    fn has_tensor(&self, name: &str) -> bool;
    /// The dimensions of tensor `name` (GGUF order: fastest-varying first), when known.
    fn tensor_dims(&self, _name: &str) -> Option<Vec<u64>> {
        None
    }
}

/// Reads the `llama.*` keys (see [`Arch::from_gguf`]), collecting what lpipe cannot run.
pub(super) fn read(header: &dyn GgufHeader, name: &str) -> Result<Reading, ArchError> {
    let gguf = Gguf { header, name };
    match header.kv("general.architecture") {
        Some(GgufScalar::Str(a)) if a == "llama" => {}
        Some(GgufScalar::Str(a)) => {
            return Err(ArchError::Unsupported {
                source_name: name.to_string(),
                found: a,
            });
        }
        _ => return Err(gguf.missing("general.architecture", "the model family")),
    }
    let hidden_size = gguf.dim("llama.embedding_length")?;
    let num_heads = gguf.dim("llama.attention.head_count")?;
    let num_kv_heads = match header.kv("llama.attention.head_count_kv") {
        None => num_heads,
        Some(_) => gguf.dim("llama.attention.head_count_kv")?,
    };
    let embedding_rows = header
        .tensor_dims("token_embd.weight")
        .and_then(|d| d.get(1).copied())
        .filter(|&n| n > 0);
    let vocab_size = match (header.kv("llama.vocab_size"), embedding_rows) {
        (Some(_), _) => gguf.dim("llama.vocab_size")?,
        (None, Some(rows)) => to_usize(rows),
        (None, None) => match header.kv("tokenizer.ggml.tokens") {
            Some(GgufScalar::ArrayLen(n)) if n > 0 => to_usize(n),
            _ => return Err(gguf.missing("tokenizer.ggml.tokens", "the vocabulary")),
        },
    };
    let mut problems = Vec::new();
    let rope_scaling = match header.kv("llama.rope.scaling.type") {
        None => None,
        Some(GgufScalar::Str(t)) if t == "none" => None,
        Some(GgufScalar::Str(t)) if t == "linear" => Some(RopeScaling::Linear {
            factor: gguf.positive("llama.rope.scaling.factor")?,
        }),
        Some(other) => {
            problems.push(format!("rope scaling {other} is not supported"));
            None
        }
    };
    if header.has_tensor("rope_freqs.weight") {
        problems.push("per-frequency rope factors (`rope_freqs.weight`) are not supported".into());
    }
    let head_dim = match header.kv("llama.attention.key_length") {
        Some(_) => gguf.dim("llama.attention.key_length")?,
        None => hidden_size / num_heads,
    };
    let arch = Arch {
        vocab_size,
        hidden_size,
        intermediate_size: gguf.dim("llama.feed_forward_length")?,
        num_layers: gguf.dim("llama.block_count")?,
        num_heads,
        num_kv_heads,
        head_dim,
        tie_word_embeddings: !header.has_tensor("output.weight"),
        max_position_embeddings: gguf.dim("llama.context_length")?,
        rope_theta: match header.kv("llama.rope.freq_base") {
            // llama.cpp's default when the key is absent.
            None => 10_000.0,
            Some(_) => gguf.positive("llama.rope.freq_base")?,
        },
        rms_norm_eps: gguf.positive("llama.attention.layer_norm_rms_epsilon")?,
        rope_scaling,
    };
    Ok(Reading { arch, problems })
}

/// A GGUF header with the name used in diagnostics.
struct Gguf<'a> {
    header: &'a dyn GgufHeader,
    name: &'a str,
}

impl Gguf<'_> {
    fn missing(&self, key: &str, what: &str) -> ArchError {
        ArchError::Missing {
            source_name: self.name.to_string(),
            field: key.to_string(),
            help: format!("the GGUF header must give {what}; was the file converted by llama.cpp?"),
        }
    }

    fn invalid(&self, key: &str, problem: String) -> ArchError {
        ArchError::Invalid {
            source_name: self.name.to_string(),
            field: key.to_string(),
            problem,
            help: "the GGUF header is malformed; re-convert the checkpoint",
            src: None,
            span: None,
        }
    }

    fn dim(&self, key: &str) -> Result<usize, ArchError> {
        match self.header.kv(key) {
            None => Err(self.missing(key, &format!("`{key}`"))),
            Some(GgufScalar::Uint(n)) if n > 0 => Ok(to_usize(n)),
            Some(GgufScalar::Int(n)) if n > 0 => Ok(to_usize(n.unsigned_abs())),
            Some(v) => Err(self.invalid(key, format!("is {v}, not a positive integer"))),
        }
    }

    fn positive(&self, key: &str) -> Result<f64, ArchError> {
        match self.header.kv(key) {
            None => Err(self.missing(key, &format!("`{key}`"))),
            Some(GgufScalar::Float(x)) if x > 0.0 && x.is_finite() => Ok(x),
            Some(v) => Err(self.invalid(key, format!("is {v}, not a positive number"))),
        }
    }
}
