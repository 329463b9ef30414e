//! The `quant_state.bitsandbytes__<type>` entry: bitsandbytes' non-tensor QuantState fields as
//! UTF-8 JSON bytes (`QuantState.as_dict(packed=True)` → `pack_dict_to_tensor`).

use serde::Deserialize;

use super::pyfloat::python_repr;
use crate::quant::codes::QuantType;
use crate::quant::dtype::FloatDtype;
use crate::quant::error::QuantError;
use crate::quant::tensor::{Absmax, QuantizedTensor};

/// The key suffix after `<name>.weight.` for a quant type.
pub fn quant_state_key(quant_type: QuantType) -> String {
    format!("quant_state.bitsandbytes__{}", quant_type.name())
}

/// The JSON bitsandbytes writes, byte for byte: `json.dumps` of `{quant_type, blocksize, dtype,
/// shape[, nested_blocksize, nested_dtype, nested_offset]}` in that order with `", "`/`": "`.
pub fn encode(q: &QuantizedTensor) -> Vec<u8> {
    let shape: Vec<String> = q.shape.iter().map(|d| d.to_string()).collect();
    let mut s = format!(
        "{{\"quant_type\": \"{}\", \"blocksize\": {}, \"dtype\": \"{}\", \"shape\": [{}]",
        q.quant_type.name(),
        q.block_size,
        q.dtype.torch_name(),
        shape.join(", ")
    );
    if let Absmax::Nested(n) = &q.absmax {
        s.push_str(&format!(
            ", \"nested_blocksize\": {}, \"nested_dtype\": \"float32\", \"nested_offset\": {}",
            n.block_size,
            python_repr(f64::from(n.offset))
        ));
    }
    s.push('}');
    s.into_bytes()
}

/// The parsed fields.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QuantState {
    /// `nf4` or `fp4`.
    pub quant_type: String,
    /// Elements per block.
    pub blocksize: usize,
    /// Original dtype name.
    pub dtype: String,
    /// Original shape.
    pub shape: Vec<usize>,
    /// Second-level block size when double-quantized.
    pub nested_blocksize: Option<usize>,
    /// Dtype of the nested statistics.
    pub nested_dtype: Option<String>,
    /// Double-quant offset.
    pub nested_offset: Option<f64>,
}

impl QuantState {
    /// Parses the JSON bytes of weight `name`.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Self, QuantError> {
        let bad = |reason: String| QuantError::BadQuantState {
            name: name.to_string(),
            reason,
        };
        let state: QuantState = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        QuantType::parse(&state.quant_type)
            .map_err(|_| bad(format!("quant_type `{}`", state.quant_type)))?;
        state
            .float_dtype()
            .ok_or_else(|| bad(format!("dtype `{}`", state.dtype)))?;
        let nested = [
            state.nested_blocksize.is_some(),
            state.nested_offset.is_some(),
        ];
        if nested[0] != nested[1] {
            return Err(bad(
                "nested_blocksize and nested_offset must come together".into()
            ));
        }
        Ok(state)
    }

    /// The quant type (validated by [`QuantState::decode`]).
    pub fn quant_type(&self) -> QuantType {
        QuantType::parse(&self.quant_type).unwrap_or(QuantType::Nf4)
    }

    /// The original dtype, if known.
    pub fn float_dtype(&self) -> Option<FloatDtype> {
        FloatDtype::from_torch_name(&self.dtype)
    }
}
