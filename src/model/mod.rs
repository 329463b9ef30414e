//! Checkpoint formats and loading: GGUF, HF safetensors directories, model configs.

pub mod error;
pub mod gguf;

pub use error::ModelError;
