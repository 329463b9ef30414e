//! Burn modules: the Llama-family decoder and its LoRA-wrapped linears.

pub mod attention;
pub mod block;
pub mod cache;
pub mod config;
pub mod init;
pub mod linear;
pub mod llama;
pub mod lora;
pub mod mlp;
pub mod parallel;
pub mod quant_linear;
pub mod rms_norm;
pub mod rope;

pub use cache::KvCache;
pub use config::{LlamaConfig, RopeScaling};
pub use linear::{Linear, LinearWeight};
pub use llama::Llama;
pub use lora::{Lora, LoraConfig};
