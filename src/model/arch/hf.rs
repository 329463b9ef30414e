//! Reading an [`Arch`] from a Hugging Face `config.json` (LlamaConfig field names).

use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use serde_json::Value;

use super::{Arch, ArchError, Reading, RopeScaling, to_usize};

/// Parses a `config.json` text into an [`Arch`] (see [`Arch::from_hf_config_str`]).
pub(super) fn parse(text: &str, name: &str) -> Result<Arch, ArchError> {
    let reading = read(text, name)?;
    reading.arch.check_heads(
        name,
        "num_key_value_heads",
        Some(Arc::new(NamedSource::new(name, text.to_string()))),
        key_span(text, "num_key_value_heads"),
    )?;
    reading.refuse_problems(name)
}

/// Reads a `config.json` text, collecting what lpipe cannot run instead of refusing it.
pub(super) fn read(text: &str, name: &str) -> Result<Reading, ArchError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ArchError::Json {
        path: name.to_string(),
        message: e.to_string(),
        src: Arc::new(NamedSource::new(name, text.to_string())),
        span: line_col_offset(text, e.line(), e.column()).into(),
    })?;
    HfConfig { text, name, value }.reading()
}

/// `model_type`s whose checkpoints are Llama decoders under another name.
const LLAMA_TYPES: &[&str] = &["llama", "mistral"];

/// A parsed `config.json` with its text kept for spans.
struct HfConfig<'a> {
    text: &'a str,
    name: &'a str,
    value: Value,
}

impl HfConfig<'_> {
    fn reading(&self) -> Result<Reading, ArchError> {
        let llama_class = self
            .value
            .get("architectures")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == "LlamaForCausalLM"));
        if let Some(t) = self.value.get("model_type").and_then(Value::as_str)
            && !LLAMA_TYPES.contains(&t)
            && !llama_class
        {
            return Err(ArchError::Unsupported {
                source_name: self.name.to_string(),
                found: t.to_string(),
            });
        }
        let hidden_size = self.dim("hidden_size")?;
        let num_heads = self.dim("num_attention_heads")?;
        // Defaults below are transformers' `LlamaConfig` defaults.
        let num_kv_heads = self.opt_dim("num_key_value_heads")?.unwrap_or(num_heads);
        let head_dim = self.opt_dim("head_dim")?.unwrap_or(hidden_size / num_heads);
        // transformers ≥ 5 nests RoPE settings under `rope_parameters`, older ones use
        // `rope_theta` and `rope_scaling`.
        let rope = match self.value.get("rope_parameters") {
            Some(Value::Object(p)) => Some(("rope_parameters", p)),
            _ => match self.value.get("rope_scaling") {
                Some(Value::Object(p)) => Some(("rope_scaling", p)),
                _ => None,
            },
        };
        let rope_theta = match rope {
            Some((field, p)) if p.contains_key("rope_theta") => {
                self.float_in(p.get("rope_theta"), &format!("{field}.rope_theta"))?
            }
            _ => self.opt_float("rope_theta")?.unwrap_or(10_000.0),
        };
        let mut problems = Vec::new();
        let rope_scaling = match rope {
            None => None,
            Some((field, p)) => self.rope_scaling(field, p).unwrap_or_else(|p| {
                problems.push(p);
                None
            }),
        };
        for bias in ["attention_bias", "mlp_bias"] {
            if self.opt_bool(bias)? == Some(true) {
                problems.push(format!(
                    "`{bias}: true` (projection biases) is not supported"
                ));
            }
        }
        if let Some(act) = self.value.get("hidden_act").and_then(Value::as_str)
            && act != "silu"
        {
            problems.push(format!("activation `{act}` is not supported (only silu)"));
        }
        let arch = Arch {
            vocab_size: self.dim("vocab_size")?,
            hidden_size,
            intermediate_size: self.dim("intermediate_size")?,
            num_layers: self.dim("num_hidden_layers")?,
            num_heads,
            num_kv_heads,
            head_dim,
            tie_word_embeddings: self.opt_bool("tie_word_embeddings")?.unwrap_or(false),
            max_position_embeddings: self.opt_dim("max_position_embeddings")?.unwrap_or(2048),
            rope_theta,
            rms_norm_eps: self.opt_float("rms_norm_eps")?.unwrap_or(1e-6),
            rope_scaling,
        };
        Ok(Reading { arch, problems })
    }

    /// HF `rope_scaling` / `rope_parameters`; `Err` says why lpipe cannot run it.
    fn rope_scaling(
        &self,
        field: &str,
        p: &serde_json::Map<String, Value>,
    ) -> Result<Option<RopeScaling>, String> {
        let kind = p
            .get("rope_type")
            .or_else(|| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("default");
        let num = |k: &str| {
            p.get(k)
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| format!("`{field}` of type `{kind}` lacks a positive `{k}`"))
        };
        match kind {
            "default" => Ok(None),
            "linear" => Ok(Some(RopeScaling::Linear {
                factor: num("factor")?,
            })),
            "llama3" => Ok(Some(RopeScaling::Llama3 {
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_max_position_embeddings: num("original_max_position_embeddings")? as usize,
            })),
            other => Err(format!("rope scaling `{other}` is not supported")),
        }
    }

    fn invalid(&self, field: &str, problem: &str, help: &'static str) -> ArchError {
        ArchError::Invalid {
            source_name: self.name.to_string(),
            field: field.to_string(),
            problem: problem.to_string(),
            help,
            src: Some(Arc::new(NamedSource::new(self.name, self.text.to_string()))),
            span: key_span(self.text, field.rsplit('.').next().unwrap_or(field)),
        }
    }

    fn dim(&self, field: &str) -> Result<usize, ArchError> {
        self.opt_dim(field)?.ok_or_else(|| ArchError::Missing {
            source_name: self.name.to_string(),
            field: field.to_string(),
            help: format!("a Llama `config.json` must give `{field}` as a positive integer"),
        })
    }

    fn opt_dim(&self, field: &str) -> Result<Option<usize>, ArchError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(to_usize(n))),
                _ => Err(self.invalid(
                    field,
                    &format!("is `{v}`, not a positive integer"),
                    "write a positive integer",
                )),
            },
        }
    }

    fn opt_float(&self, field: &str) -> Result<Option<f64>, ArchError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            v => self.float_in(v, field).map(Some),
        }
    }

    fn float_in(&self, v: Option<&Value>, field: &str) -> Result<f64, ArchError> {
        match v.and_then(Value::as_f64) {
            Some(x) if x > 0.0 && x.is_finite() => Ok(x),
            _ => Err(self.invalid(
                field,
                "is not a positive number",
                "write a positive number such as `1e-5` or `10000.0`",
            )),
        }
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>, ArchError> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(
                field,
                &format!("is `{v}`, not a boolean"),
                "write `true` or `false`",
            )),
        }
    }
}

/// Byte offset of 1-based `line`/`column` (serde_json's convention) in `text`.
fn line_col_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// Span of the first `"key"` in a JSON text (good enough for flat HF configs).
fn key_span(text: &str, key: &str) -> Option<SourceSpan> {
    let quoted = format!("\"{key}\"");
    text.find(&quoted)
        .map(|at| SourceSpan::from((at, quoted.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_defaults_follow_llama_config() {
        let text = r#"{"model_type": "llama", "vocab_size": 100, "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}"#;
        let a = Arch::from_hf_config_str(text, "config.json").expect("parses");
        assert_eq!((a.num_kv_heads, a.head_dim), (4, 16));
        assert!(!a.tie_word_embeddings);
        assert_eq!(a.rms_norm_eps, 1e-6);
        assert_eq!(a.max_position_embeddings, 2048);
    }

    #[test]
    fn hf_errors_name_the_field() {
        let text = r#"{"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4}"#;
        match Arch::from_hf_config_str(text, "c.json") {
            Err(ArchError::Missing { field, .. }) => assert_eq!(field, "num_hidden_layers"),
            other => panic!("expected Missing, got {other:?}"),
        }
        let text = r#"{"vocab_size": 100, "hidden_size": "64"}"#;
        match Arch::from_hf_config_str(text, "c.json") {
            Err(ArchError::Invalid { field, span, .. }) => {
                assert_eq!(field, "hidden_size");
                assert_eq!(span, Some(SourceSpan::from((20, 13))));
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        let text = "{\n  \"vocab_size\": 1,,\n}";
        match Arch::from_hf_config_str(text, "c.json") {
            Err(ArchError::Json { span, .. }) => assert_eq!(span.offset(), 20),
            other => panic!("expected Json, got {other:?}"),
        }
        let text = r#"{"model_type": "gpt2"}"#;
        assert!(matches!(
            Arch::from_hf_config_str(text, "c.json"),
            Err(ArchError::Unsupported { .. })
        ));
    }

    #[test]
    fn transformers5_rope_parameters_and_explicit_head_dim() {
        let text = r#"{"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "head_dim": 32,
            "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}}"#;
        let a = Arch::from_hf_config_str(text, "config.json").expect("parses");
        assert_eq!(a.rope_theta, 500_000.0);
        // head_dim wins over hidden / heads: q_proj is 64 → 128.
        assert_eq!((a.head_dim, a.q_dim()), (32, 128));
    }

    #[test]
    fn gqa_heads_must_divide() {
        let text = r#"{"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3}"#;
        assert!(matches!(
            Arch::from_hf_config_str(text, "c.json"),
            Err(ArchError::Invalid { .. })
        ));
    }

    #[test]
    fn what_cannot_run_is_listed_by_the_reader_and_refused_by_plan() {
        let text = r#"{"model_type": "mistral", "vocab_size": 100, "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "hidden_act": "gelu", "mlp_bias": true,
            "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}"#;
        let reading = Arch::read_hf_config_str(text, "c.json").expect("reads");
        assert_eq!(reading.problems.len(), 3, "{:?}", reading.problems);
        assert!(reading.problems.iter().any(|p| p.contains("gelu")));
        assert!(reading.problems.iter().any(|p| p.contains("yarn")));
        match Arch::from_hf_config_str(text, "c.json") {
            Err(e @ ArchError::Unrunnable { .. }) => {
                assert!(e.to_string().contains("mlp_bias"), "{e}")
            }
            other => panic!("expected Unrunnable, got {other:?}"),
        }
    }

    #[test]
    fn llama3_rope_scaling_is_read() {
        let text = r#"{"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "rope_theta": 500000.0,
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}"#;
        let a = Arch::from_hf_config_str(text, "c.json").expect("parses");
        assert_eq!(a.rope_theta, 500_000.0);
        assert_eq!(
            a.rope_scaling,
            Some(RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192,
            })
        );
    }
}
