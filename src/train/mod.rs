//! Training: LoRA optimisation loop, optimizers, schedules, checkpoints.
//!
//! Data enters as tokenized [`Example`]s; [`fit`] runs the loop on any [`LoraModel`], writing
//! PEFT-format adapters ([`Adapter`]) and resumable [`checkpoint`]s.

pub mod adapter;
pub mod batch;
pub mod checkpoint;
pub mod clip;
pub mod error;
pub mod export;
pub mod fit;
pub mod gguf_export;
pub mod llama;
pub mod loss;
pub mod merge;
pub mod model;
pub mod optim;
pub mod rng;
pub mod schedule;
pub mod step;
pub mod tensors;

pub use adapter::{Adapter, AdapterConfig};
pub use batch::{Example, IGNORE_INDEX};
pub use error::TrainError;
pub use fit::{CheckpointPlan, Event, FitOutcome, TrainConfig, evaluate, fit};
pub use model::LoraModel;
