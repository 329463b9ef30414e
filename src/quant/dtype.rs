//! The floating-point element types 4-bit quantization reads and dequantization writes.

use half::{bf16, f16};

/// The dtype of the tensor that was quantized (bitsandbytes stores it and dequantizes back to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FloatDtype {
    /// 32-bit float.
    Float32,
    /// bfloat16.
    Bfloat16,
    /// IEEE half.
    Float16,
}

impl FloatDtype {
    /// The name in bitsandbytes' quant_state JSON (`str(torch.dtype)` without `torch.`).
    pub fn torch_name(self) -> &'static str {
        match self {
            FloatDtype::Float32 => "float32",
            FloatDtype::Bfloat16 => "bfloat16",
            FloatDtype::Float16 => "float16",
        }
    }

    /// Parses a torch dtype name (`float32`, `bfloat16`, `float16`, with or without `torch.`).
    pub fn from_torch_name(name: &str) -> Option<Self> {
        match name.strip_prefix("torch.").unwrap_or(name) {
            "float32" | "float" => Some(FloatDtype::Float32),
            "bfloat16" => Some(FloatDtype::Bfloat16),
            "float16" | "half" => Some(FloatDtype::Float16),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            FloatDtype::Float32 => 4,
            FloatDtype::Bfloat16 | FloatDtype::Float16 => 2,
        }
    }
}

/// An element type bitsandbytes quantizes: f32, bf16 or f16.
pub trait Element: Copy + Send + Sync + 'static {
    /// Its dtype tag.
    const DTYPE: FloatDtype;
    /// Widens to f32 (exact).
    fn to_f32(self) -> f32;
    /// Rounds an f32 to this type (round to nearest even).
    fn from_f32(v: f32) -> Self;
    /// Rounds an f32 to this type's precision and widens it back.
    #[inline(always)]
    fn round_f32(v: f32) -> f32 {
        Self::from_f32(v).to_f32()
    }
}

impl Element for f32 {
    const DTYPE: FloatDtype = FloatDtype::Float32;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Element for bf16 {
    const DTYPE: FloatDtype = FloatDtype::Bfloat16;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
}

impl Element for f16 {
    const DTYPE: FloatDtype = FloatDtype::Float16;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
}
