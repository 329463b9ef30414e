//! The LoRA adapter.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ir::target::LoraTarget;

/// The `lora` stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lora {
    /// Which base linears get an adapter.
    pub targets: Vec<LoraTarget>,
    /// Rank.
    pub r: u32,
    /// Scaling numerator: the update is scaled by alpha/r (alpha/√r with rsLoRA).
    pub alpha: f64,
    /// Dropout on the adapter's input, in [0, 1).
    pub dropout: f64,
    /// rsLoRA scaling.
    pub rslora: bool,
    /// How A and B start.
    pub init: LoraInit,
}

impl Lora {
    /// The factor applied to B·A·x.
    pub fn scaling(&self) -> f64 {
        if self.rslora {
            self.alpha / f64::from(self.r).sqrt()
        } else {
            self.alpha / f64::from(self.r)
        }
    }
}

/// Adapter initialisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoraInit {
    /// A Kaiming-uniform, B zero (PEFT's default).
    Default,
    /// Start from an existing PEFT adapter directory.
    Peft(PathBuf),
}
