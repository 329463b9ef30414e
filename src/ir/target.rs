//! Which base linears a LoRA adapter wraps.

use serde::{Deserialize, Serialize};

/// A group of base linears named as in the seed article (LitGPT's `lora_query`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoraTarget {
    /// Attention query projection (`q_proj`).
    Query,
    /// Attention key projection (`k_proj`).
    Key,
    /// Attention value projection (`v_proj`).
    Value,
    /// Attention output projection (`o_proj`).
    Projection,
    /// The SwiGLU MLP (`gate_proj`, `up_proj`, `down_proj`).
    Mlp,
    /// The output head (`lm_head`).
    Head,
}

impl LoraTarget {
    /// Every target, in declaration order.
    pub const ALL: [LoraTarget; 6] = [
        LoraTarget::Query,
        LoraTarget::Key,
        LoraTarget::Value,
        LoraTarget::Projection,
        LoraTarget::Mlp,
        LoraTarget::Head,
    ];

    /// The surface name used in `.lpipe` files.
    pub fn name(self) -> &'static str {
        match self {
            LoraTarget::Query => "query",
            LoraTarget::Key => "key",
            LoraTarget::Value => "value",
            LoraTarget::Projection => "projection",
            LoraTarget::Mlp => "mlp",
            LoraTarget::Head => "head",
        }
    }

    /// The HF/PEFT module names this target wraps.
    pub fn hf_modules(self) -> &'static [&'static str] {
        match self {
            LoraTarget::Query => &["q_proj"],
            LoraTarget::Key => &["k_proj"],
            LoraTarget::Value => &["v_proj"],
            LoraTarget::Projection => &["o_proj"],
            LoraTarget::Mlp => &["gate_proj", "up_proj", "down_proj"],
            LoraTarget::Head => &["lm_head"],
        }
    }

    /// Parses a surface name.
    pub fn from_name(name: &str) -> Option<LoraTarget> {
        LoraTarget::ALL.into_iter().find(|t| t.name() == name)
    }
}
