//! Checkpoint formats and loading: GGUF, HF safetensors directories, model configs.

pub mod arch;
pub mod config;
pub mod dequant;
pub mod device;
pub mod error;
pub mod generate;
pub mod gguf;
pub mod gguf_weights;
pub mod hf;
pub mod load;
pub mod quantize;
pub mod safetensors;
pub mod score;
pub mod source;
pub mod tokenizer_location;

pub use config::ModelConfig;
pub use error::ModelError;
pub use load::{LoadedModel, load, load_source, read_config};
