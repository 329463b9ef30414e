//! Named f32 tensors on the host and their safetensors form.
//!
//! Adapters, optimizer moments and checkpoints travel through [`HostTensor`]: plain
//! row-major f32 data with a shape, converted to and from Burn tensors on any device.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, View};

use super::error::TrainError;

/// Row-major f32 values with their shape.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

/// Tensors by name, in name order (the order safetensors files list them).
pub type NamedTensors = BTreeMap<String, HostTensor>;

impl HostTensor {
    /// Wraps data of a given shape (the caller guarantees the element count).
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        HostTensor { shape, data }
    }

    /// Reads a device tensor back to the host.
    pub fn from_tensor<const D: usize>(name: &str, t: Tensor<D>) -> Result<Self, TrainError> {
        let shape = t.dims().to_vec();
        let data = t.try_into_vec_as::<f32>().map_err(|e| TrainError::Device {
            name: name.to_string(),
            reason: format!("{e:?}"),
        })?;
        Ok(HostTensor { shape, data })
    }

    /// Uploads to `device` as a rank-`D` tensor (error when the rank differs).
    pub fn to_tensor<const D: usize>(
        &self,
        name: &str,
        device: &Device,
    ) -> Result<Tensor<D>, TrainError> {
        if self.shape.len() != D {
            return Err(TrainError::AdapterMismatch {
                reason: format!(
                    "`{name}` has shape {:?}, expected a rank-{D} tensor",
                    self.shape
                ),
            });
        }
        let data = TensorData::new(self.data.clone(), self.shape.clone());
        Ok(Tensor::<D>::from_data(data, device))
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() * 4);
        for v in &self.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// A borrowed f32 tensor in the form safetensors serializes.
struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
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

/// Serializes tensors as little-endian F32 safetensors with `{"format": "pt"}` metadata
/// (the marker PyTorch-side loaders such as PEFT and transformers expect).
pub fn to_safetensors_bytes(tensors: &NamedTensors) -> Result<Vec<u8>, TrainError> {
    let views: Vec<(String, F32View)> = tensors
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                F32View {
                    shape: t.shape.clone(),
                    bytes: t.bytes(),
                },
            )
        })
        .collect();
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::tensor::serialize(views.iter().map(|(k, v)| (k.as_str(), v)), Some(meta)).map_err(
        |e| TrainError::Tensors {
            path: "<memory>".into(),
            reason: e.to_string(),
        },
    )
}

/// Writes tensors to a safetensors file atomically.
pub fn write_safetensors(path: &Path, tensors: &NamedTensors) -> Result<(), TrainError> {
    let bytes = to_safetensors_bytes(tensors).map_err(|e| match e {
        TrainError::Tensors { reason, .. } => TrainError::Tensors {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    crate::io::write_atomic(path, &bytes).map_err(|e| TrainError::io("write", path, e))
}

/// Decodes safetensors bytes into f32 tensors (F16 and BF16 are widened exactly).
pub fn from_safetensors_bytes(path: &Path, bytes: &[u8]) -> Result<NamedTensors, TrainError> {
    let (floats, ints) = decode(path, bytes)?;
    if let Some(name) = ints.keys().next() {
        return Err(TrainError::Tensors {
            path: path.to_path_buf(),
            reason: format!(
                "tensor `{name}` is an integer tensor; only F32, F16 and BF16 are supported"
            ),
        });
    }
    Ok(floats)
}

/// Integer tensors by name: shape and values.
pub type IntTensors = BTreeMap<String, (Vec<usize>, Vec<i64>)>;

/// Reads a file holding both float and I64/I32 tensors (reference files with token batches).
pub fn read_mixed(path: &Path) -> Result<(NamedTensors, IntTensors), TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io("read", path, e))?;
    decode(path, &bytes)
}

fn decode(path: &Path, bytes: &[u8]) -> Result<(NamedTensors, IntTensors), TrainError> {
    let bad = |reason: String| TrainError::Tensors {
        path: path.to_path_buf(),
        reason,
    };
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
    let mut out = NamedTensors::new();
    let mut ints = IntTensors::new();
    for (name, view) in st.iter() {
        let raw = view.data();
        let int_values: Option<Vec<i64>> = match view.dtype() {
            Dtype::I64 => Some(
                raw.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            Dtype::I32 => Some(
                raw.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            _ => None,
        };
        if let Some(v) = int_values {
            ints.insert(name.to_string(), (view.shape().to_vec(), v));
            continue;
        }
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(bad(format!(
                    "tensor `{name}` has dtype {other:?}; only F32, F16, BF16, I64 and I32 are read"
                )));
            }
        };
        let shape = view.shape().to_vec();
        if data.len() != shape.iter().product::<usize>() {
            return Err(bad(format!("tensor `{name}` has the wrong byte length")));
        }
        out.insert(name.to_string(), HostTensor { shape, data });
    }
    Ok((out, ints))
}

/// Reads a safetensors file into f32 tensors.
pub fn read_safetensors(path: &Path) -> Result<NamedTensors, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io("read", path, e))?;
    from_safetensors_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_keeps_names_shapes_and_bits() {
        let mut t = NamedTensors::new();
        t.insert(
            "b.weight".into(),
            HostTensor::new(vec![2, 2], vec![1.0, -0.0, f32::MIN_POSITIVE, 3.5]),
        );
        t.insert("a".into(), HostTensor::new(vec![3], vec![0.1, 0.2, 0.3]));
        let bytes = to_safetensors_bytes(&t).unwrap();
        let back = from_safetensors_bytes(Path::new("x"), &bytes).unwrap();
        assert_eq!(back, t);
        assert_eq!(back["b.weight"].data[1].to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], &b"\x08\0\0\0\0\0\0\0{}"[..], &[0xff; 64][..]] {
            assert!(from_safetensors_bytes(Path::new("x"), bytes).is_err());
        }
    }

    #[test]
    fn device_round_trip() {
        let device = Device::flex();
        let h = HostTensor::new(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]);
        let t: Tensor<2> = h.to_tensor("w", &device).unwrap();
        assert_eq!(HostTensor::from_tensor("w", t).unwrap(), h);
        assert!(h.to_tensor::<1>("w", &device).is_err());
    }
}
