//! Merging a LoRA adapter into base weights: `W' = W + scaling * (B @ A)` (PEFT's
//! `merge_and_unload`), written as a Hugging Face safetensors checkpoint.
//!
//! Tensors keep their dtype: untouched ones are copied byte for byte, merged ones are computed in
//! f32 and rounded back to the base dtype (what PEFT does for a half-precision base).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};

use super::adapter::Adapter;
use super::error::TrainError;

/// One tensor of a checkpoint in its stored form.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// Stored dtype.
    pub dtype: Dtype,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Little-endian bytes.
    pub bytes: Vec<u8>,
}

impl View for &RawTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Reads every tensor of a safetensors file, keeping dtypes and bytes.
pub fn read_raw(path: &Path) -> Result<BTreeMap<String, RawTensor>, TrainError> {
    let map = crate::io::map_readonly(path).map_err(|e| TrainError::io("map", path, e))?;
    let st = SafeTensors::deserialize(&map).map_err(|e| TrainError::Tensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(st
        .iter()
        .map(|(name, v)| {
            (
                name.to_string(),
                RawTensor {
                    dtype: v.dtype(),
                    shape: v.shape().to_vec(),
                    bytes: v.data().to_vec(),
                },
            )
        })
        .collect())
}

fn to_f32(name: &str, t: &RawTensor) -> Result<Vec<f32>, TrainError> {
    let b = &t.bytes;
    Ok(match t.dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(TrainError::AdapterMismatch {
                reason: format!("cannot merge into `{name}` of dtype {other:?}"),
            });
        }
    })
}

fn from_f32(dtype: Dtype, v: &[f32]) -> Vec<u8> {
    match dtype {
        Dtype::F16 => v
            .iter()
            .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
            .collect(),
        Dtype::BF16 => v
            .iter()
            .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
            .collect(),
        _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// `W + scaling * (B @ A)` for row-major W `[out, in]`, A `[r, in]`, B `[out, r]`.
pub fn merged_weight(
    w: &[f32],
    a: &[f32],
    b: &[f32],
    out: usize,
    inp: usize,
    r: usize,
    scaling: f32,
) -> Vec<f32> {
    let mut res = w.to_vec();
    for o in 0..out {
        let brow = &b[o * r..(o + 1) * r];
        let row = &mut res[o * inp..(o + 1) * inp];
        let mut delta = vec![0.0f32; inp];
        for (k, &bk) in brow.iter().enumerate() {
            let arow = &a[k * inp..(k + 1) * inp];
            for (d, &ak) in delta.iter_mut().zip(arow) {
                *d += bk * ak;
            }
        }
        for (x, d) in row.iter_mut().zip(&delta) {
            *x += d * scaling;
        }
    }
    res
}

/// Merges every adapter module into `base` in place; returns how many weights changed.
/// Every adapter module must name a 2-D base weight of matching shape.
pub fn merge_adapter(
    base: &mut BTreeMap<String, RawTensor>,
    adapter: &Adapter,
) -> Result<usize, TrainError> {
    adapter.validate()?;
    let scaling = adapter.config.scaling() as f32;
    let r = adapter.config.r;
    let mut merged = 0;
    for (name, a) in &adapter.tensors {
        let Some(module) = name.strip_suffix(".lora_A.weight") else {
            continue;
        };
        let b_name = format!("{module}.lora_B.weight");
        let b = adapter
            .tensors
            .get(&b_name)
            .ok_or_else(|| TrainError::AdapterMismatch {
                reason: format!("`{b_name}` is missing"),
            })?;
        let w_name = format!("{module}.weight");
        let w = base
            .get_mut(&w_name)
            .ok_or_else(|| TrainError::AdapterMismatch {
                reason: format!("the base model has no `{w_name}` for adapter module `{module}`"),
            })?;
        let (out, inp) = match w.shape.as_slice() {
            [o, i] => (*o, *i),
            s => {
                return Err(TrainError::AdapterMismatch {
                    reason: format!("`{w_name}` has shape {s:?}, not [out, in]"),
                });
            }
        };
        if a.shape != [r, inp] || b.shape != [out, r] {
            return Err(TrainError::AdapterMismatch {
                reason: format!(
                    "`{module}`: A {:?} and B {:?} do not fit W [{out}, {inp}] with r = {r}",
                    a.shape, b.shape
                ),
            });
        }
        let wv = to_f32(&w_name, w)?;
        let m = merged_weight(&wv, &a.data, &b.data, out, inp, r, scaling);
        w.bytes = from_f32(w.dtype, &m);
        merged += 1;
    }
    Ok(merged)
}

/// Serializes a checkpoint with `{"format": "pt"}` metadata (as transformers writes it).
pub fn raw_to_bytes(tensors: &BTreeMap<String, RawTensor>) -> Result<Vec<u8>, TrainError> {
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::tensor::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(meta))
        .map_err(|e| TrainError::Tensors {
            path: "<memory>".into(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::tensors::read_mixed;

    /// The golden PEFT `merge_and_unload` result for layer 0's q_proj with the init adapter
    /// (torch f32 matmul; 1e-6 relative covers the different summation order over r = 4).
    #[test]
    fn merge_matches_peft_merge_and_unload() {
        let Some(shared) = crate::testing::shared() else {
            return;
        };
        let dir = shared.join("golden/lora_step");
        let mut base = read_raw(&dir.join("base_model.safetensors")).unwrap();
        let before = base.clone();
        let adapter = Adapter::load(&dir.join("peft_adapter_init")).unwrap();
        assert_eq!(merge_adapter(&mut base, &adapter).unwrap(), 4);
        let g = read_mixed(&dir.join("lora_step.safetensors")).unwrap().0;
        let want = &g["merged_init.model.layers.0.self_attn.q_proj.weight"].data;
        let got = to_f32("q", &base["model.layers.0.self_attn.q_proj.weight"]).unwrap();
        for (x, y) in got.iter().zip(want) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-2), "{x} vs {y}");
        }
        // untouched tensors are byte-identical
        assert_eq!(
            base["model.layers.0.self_attn.k_proj.weight"],
            before["model.layers.0.self_attn.k_proj.weight"]
        );
        assert_ne!(
            base["model.layers.1.self_attn.v_proj.weight"],
            before["model.layers.1.self_attn.v_proj.weight"]
        );
    }

    #[test]
    fn bf16_base_stays_bf16() {
        let w = RawTensor {
            dtype: Dtype::BF16,
            shape: vec![1, 2],
            bytes: from_f32(Dtype::BF16, &[1.0, 2.0]),
        };
        let mut base = BTreeMap::from([("m.weight".to_string(), w)]);
        let mut tensors = crate::train::tensors::NamedTensors::new();
        tensors.insert(
            "m.lora_A.weight".into(),
            crate::train::tensors::HostTensor::new(vec![1, 2], vec![1.0, 0.0]),
        );
        tensors.insert(
            "m.lora_B.weight".into(),
            crate::train::tensors::HostTensor::new(vec![1, 1], vec![0.5]),
        );
        let adapter = Adapter {
            config: crate::train::AdapterConfig {
                r: 1,
                lora_alpha: 2.0,
                lora_dropout: 0.0,
                target_modules: vec!["m".into()],
                use_rslora: false,
                base_model_name_or_path: None,
            },
            tensors,
        };
        merge_adapter(&mut base, &adapter).unwrap();
        assert_eq!(base["m.weight"].dtype, Dtype::BF16);
        assert_eq!(to_f32("m", &base["m.weight"]).unwrap(), vec![2.0, 2.0]);
    }
}
