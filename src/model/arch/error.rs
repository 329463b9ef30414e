//! Errors reading an architecture (codes E201–E207).

use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// Why an architecture could not be determined.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ArchError {
    /// The name is not in the built-in table.
    #[error("unknown architecture `{name}`")]
    #[diagnostic(code(lpipe::E201), help("{help}"))]
    UnknownBuiltin {
        /// The name as written.
        name: String,
        /// "did you mean" or the list of known names.
        help: String,
    },
    /// The config file could not be read.
    #[error("cannot read `{path}`: {message}")]
    #[diagnostic(
        code(lpipe::E202),
        help("point the model at a Hugging Face checkpoint directory containing `config.json`")
    )]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The config file is not valid JSON.
    #[error("`{path}` is not valid JSON: {message}")]
    #[diagnostic(code(lpipe::E203), help("fix the JSON syntax at the marked position"))]
    Json {
        /// The file.
        path: String,
        /// serde_json's message.
        message: String,
        /// The file's text (shared: keeps the error small).
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// Where parsing stopped.
        #[label("here")]
        span: SourceSpan,
    },
    /// A required field or key is absent.
    #[error("`{source_name}` has no `{field}`")]
    #[diagnostic(code(lpipe::E204), help("{help}"))]
    Missing {
        /// The file (or GGUF) being read.
        source_name: String,
        /// The missing field or key.
        field: String,
        /// What the field means and where it usually comes from.
        help: String,
    },
    /// A field is present but its type or value is unusable.
    #[error("`{field}` in `{source_name}` {problem}")]
    #[diagnostic(code(lpipe::E205), help("{help}"))]
    Invalid {
        /// The file (or GGUF) being read.
        source_name: String,
        /// The offending field or key.
        field: String,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        help: &'static str,
        /// The file's text, when it is a JSON file.
        #[source_code]
        src: Option<Arc<NamedSource<String>>>,
        /// The field's position, when known.
        #[label("this field")]
        span: Option<SourceSpan>,
    },
    /// The model is not a Llama-family decoder.
    #[error("`{source_name}` describes a `{found}` model, not a Llama-family one")]
    #[diagnostic(
        code(lpipe::E206),
        help("lpipe trains Llama-architecture checkpoints (Llama 2, TinyLlama, SmolLM2, …)")
    )]
    Unsupported {
        /// The file (or GGUF) being read.
        source_name: String,
        /// The architecture it names.
        found: String,
    },
    /// A Llama-family model using something lpipe does not implement.
    #[error("`{source_name}` cannot run here: {problems}")]
    #[diagnostic(
        code(lpipe::E207),
        help(
            "lpipe runs Llama decoders with SiLU MLPs, no projection biases, and default, \
             linear or llama3 RoPE scaling; pick a checkpoint without these features"
        )
    )]
    Unrunnable {
        /// The file (or GGUF) being read.
        source_name: String,
        /// Every unsupported feature, joined by `; `.
        problems: String,
    },
}
