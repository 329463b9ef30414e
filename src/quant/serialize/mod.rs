//! transformers' bitsandbytes 4-bit checkpoint format: writing ([`quantize_checkpoint`]) and
//! reading ([`read_quantized`]).

mod checkpoint;
mod parts;
mod pyfloat;
mod quant_state;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use checkpoint::{QuantizeOptions, QuantizeSummary, is_quantizable, quantize_checkpoint};
pub use parts::{Part, is_part_of, read_quantized_tensors, tensor_parts};
pub use pyfloat::python_repr;
pub use quant_state::{QuantState, encode as encode_quant_state, quant_state_key};
pub use source::safetensors_files;

use super::error::QuantError;
use super::tensor::QuantizedTensor;

/// The 4-bit weights of a pre-quantized checkpoint (a `.safetensors` file or HF directory).
#[derive(Debug, Clone, Default)]
pub struct QuantizedCheckpoint {
    /// Weight name (`model.layers.0.self_attn.q_proj.weight`) → 4-bit tensor.
    pub tensors: BTreeMap<String, QuantizedTensor>,
    /// The files read.
    pub files: Vec<PathBuf>,
}

impl QuantizedCheckpoint {
    /// True when `key` is a 4-bit weight or one of its statistics entries (a loader reading the
    /// remaining plain tensors skips these).
    pub fn owns(&self, key: &str) -> bool {
        let base = key.find(".weight").map(|i| &key[..i + ".weight".len()]);
        base.is_some_and(|b| self.tensors.contains_key(b) && is_part_of(key, b))
    }
}

/// Reads every 4-bit weight of a checkpoint written by transformers/bitsandbytes or
/// `lpipe quantize`.
pub fn read_quantized(path: &Path) -> Result<QuantizedCheckpoint, QuantError> {
    let files = safetensors_files(path)?;
    let mut out = QuantizedCheckpoint::default();
    for file in &files {
        let map = source::Mapped::open(file)?;
        let st = map.tensors()?;
        out.tensors.extend(read_quantized_tensors(&st)?);
    }
    out.files = files;
    Ok(out)
}
