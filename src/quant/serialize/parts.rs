//! A 4-bit tensor as the safetensors entries transformers saves for a bitsandbytes `Linear4bit`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensors, View};

use super::quant_state::{QuantState, encode, quant_state_key};
use crate::quant::codes::QuantType;
use crate::quant::error::QuantError;
use crate::quant::tensor::{Absmax, NestedAbsmax, QuantizedTensor};

/// One safetensors entry to write.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Little-endian bytes.
    pub data: Cow<'a, [u8]>,
}

impl View for Part<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn f32_part(v: &[f32]) -> Part<'static> {
    Part {
        dtype: Dtype::F32,
        shape: vec![v.len()],
        data: Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    }
}

/// The entries for weight `name` (e.g. `model.layers.0.mlp.up_proj.weight`): `name` (packed
/// uint8 `[ceil(n/2), 1]`), `name.absmax`, `name.quant_map`, with double quantization
/// `name.nested_absmax` and `name.nested_quant_map`, and `name.quant_state.bitsandbytes__<type>`.
pub fn tensor_parts<'a>(name: &str, q: &'a QuantizedTensor) -> Vec<(String, Part<'a>)> {
    let mut parts = vec![
        (
            name.to_string(),
            Part {
                dtype: Dtype::U8,
                shape: vec![q.packed.len(), 1],
                data: Cow::Borrowed(&q.packed),
            },
        ),
        (format!("{name}.quant_map"), f32_part(&q.code)),
    ];
    match &q.absmax {
        Absmax::Plain(a) => parts.push((format!("{name}.absmax"), f32_part(a))),
        Absmax::Nested(n) => {
            let codes = Part {
                dtype: Dtype::U8,
                shape: vec![n.codes.len()],
                data: Cow::Borrowed(&n.codes),
            };
            parts.push((format!("{name}.absmax"), codes));
            parts.push((format!("{name}.nested_absmax"), f32_part(&n.absmax)));
            parts.push((format!("{name}.nested_quant_map"), f32_part(&n.code)));
        }
    }
    let state = encode(q);
    let state = Part {
        dtype: Dtype::U8,
        shape: vec![state.len()],
        data: Cow::Owned(state),
    };
    parts.push((format!("{name}.{}", quant_state_key(q.quant_type)), state));
    parts
}

/// The 4-bit weights of one safetensors file, keyed by weight name.
pub fn read_quantized_tensors(
    st: &SafeTensors<'_>,
) -> Result<BTreeMap<String, QuantizedTensor>, QuantError> {
    let mut out = BTreeMap::new();
    for key in st.names() {
        for qt in [QuantType::Nf4, QuantType::Fp4] {
            let suffix = format!(".{}", quant_state_key(qt));
            if let Some(name) = key.strip_suffix(&suffix) {
                out.insert(name.to_string(), read_one(st, name, key)?);
            }
        }
    }
    Ok(out)
}

/// True when `key` is one of the entries [`tensor_parts`] writes for weight `name`.
pub fn is_part_of(key: &str, name: &str) -> bool {
    key == name
        || key
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| {
                matches!(
                    rest,
                    "absmax" | "quant_map" | "nested_absmax" | "nested_quant_map"
                ) || rest.starts_with("quant_state.")
            })
}

fn read_one(
    st: &SafeTensors<'_>,
    name: &str,
    state_key: &str,
) -> Result<QuantizedTensor, QuantError> {
    let bad = |reason: String| QuantError::Inconsistent {
        name: name.to_string(),
        reason,
    };
    let get = |key: String, dtype: Dtype| -> Result<Vec<u8>, QuantError> {
        let t = st
            .tensor(&key)
            .map_err(|_| bad(format!("missing `{key}`")))?;
        if t.dtype() != dtype {
            return Err(bad(format!(
                "`{key}` is {:?}, expected {dtype:?}",
                t.dtype()
            )));
        }
        Ok(t.data().to_vec())
    };
    let f32s = |b: Vec<u8>| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let state = QuantState::decode(name, &get(state_key.to_string(), Dtype::U8)?)?;
    let code: [f32; 16] = f32s(get(format!("{name}.quant_map"), Dtype::F32)?)
        .try_into()
        .map_err(|v: Vec<f32>| bad(format!("quant_map has {} entries, expected 16", v.len())))?;
    let absmax = match (state.nested_blocksize, state.nested_offset) {
        (Some(block_size), Some(offset)) => Absmax::Nested(NestedAbsmax {
            codes: get(format!("{name}.absmax"), Dtype::U8)?,
            offset: offset as f32,
            absmax: f32s(get(format!("{name}.nested_absmax"), Dtype::F32)?),
            block_size,
            code: f32s(get(format!("{name}.nested_quant_map"), Dtype::F32)?),
        }),
        _ => Absmax::Plain(f32s(get(format!("{name}.absmax"), Dtype::F32)?)),
    };
    let q = QuantizedTensor {
        quant_type: state.quant_type(),
        shape: state.shape.clone(),
        dtype: state
            .float_dtype()
            .ok_or_else(|| bad(format!("dtype `{}`", state.dtype)))?,
        block_size: state.blocksize,
        code,
        packed: get(name.to_string(), Dtype::U8)?,
        absmax,
    };
    q.validate(name)?;
    Ok(q)
}
