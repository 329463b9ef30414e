//! Memory-mapped safetensors files, tensors converted to `f32` on request (or handed over as
//! stored, for a device that converts on its own).

use std::path::{Path, PathBuf};

use burn::tensor::{DType, TensorData};
use half::{bf16, f16};
use safetensors::tensor::{Dtype, Metadata, SafeTensors};

use super::error::ModelError;

/// One `.safetensors` file, mapped, with its header parsed once.
pub struct SafetensorsFile {
    path: PathBuf,
    map: memmap2::Mmap,
    header_len: usize,
    metadata: Metadata,
}

impl std::fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .finish()
    }
}

impl SafetensorsFile {
    /// Maps `path` and validates its header against the file size.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let io = |source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let map = crate::io::map_readonly(path).map_err(io)?;
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| ModelError::Safetensors {
                path: path.to_path_buf(),
                what: e.to_string(),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            map,
            header_len,
            metadata,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor names in the file.
    pub fn names(&self) -> Vec<String> {
        self.metadata.tensors().into_keys().collect()
    }

    /// Whether the file has `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.metadata.info(name).is_some()
    }

    /// Row-major shape of `name`.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.metadata.info(name).map(|i| i.shape.clone())
    }

    /// The stored dtype and bytes of `name`, after checking it exists and has `shape`.
    fn stored(
        &self,
        name: &str,
        shape: Option<&[usize]>,
    ) -> Result<(&safetensors::tensor::TensorInfo, &[u8]), ModelError> {
        let info = self
            .metadata
            .info(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
            })?;
        if let Some(shape) = shape.filter(|s| *s != info.shape.as_slice()) {
            return Err(ModelError::TensorShape {
                path: self.path.clone(),
                tensor: name.to_string(),
                expected: shape.to_vec(),
                found: info.shape.clone(),
            });
        }
        let (start, end) = info.data_offsets;
        let base = 8 + self.header_len;
        // read_metadata checked the offsets against the file length.
        Ok((
            info,
            self.map.get(base + start..base + end).unwrap_or_default(),
        ))
    }

    /// `name` as stored (F32, F16 or BF16 bytes, no conversion) for upload to a device that
    /// converts on its own; checks `shape`.
    pub fn to_data(&self, name: &str, shape: &[usize]) -> Result<TensorData, ModelError> {
        let (info, bytes) = self.stored(name, Some(shape))?;
        let dtype = match info.dtype {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            other => {
                return Err(ModelError::UnsupportedType {
                    path: self.path.clone(),
                    tensor: name.to_string(),
                    ty: format!("{other:?}"),
                });
            }
        };
        let n: usize = shape.iter().product();
        if bytes.len() != n * dtype.size() {
            return Err(ModelError::TensorCorrupt {
                path: self.path.clone(),
                tensor: name.to_string(),
                what: format!(
                    "{} bytes, shape {shape:?} needs {}",
                    bytes.len(),
                    n * dtype.size()
                ),
            });
        }
        Ok(TensorData::from_bytes_vec(
            bytes.to_vec(),
            shape.to_vec(),
            dtype,
        ))
    }

    /// `name` converted to `f32` (F32, F16, BF16 stored); checks `shape` when given.
    pub fn to_f32(&self, name: &str, shape: Option<&[usize]>) -> Result<Vec<f32>, ModelError> {
        let (info, bytes) = self.stored(name, shape)?;
        let out: Vec<f32> = match info.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(ModelError::UnsupportedType {
                    path: self.path.clone(),
                    tensor: name.to_string(),
                    ty: format!("{other:?}"),
                });
            }
        };
        let n: usize = info.shape.iter().product();
        if out.len() != n {
            return Err(ModelError::TensorCorrupt {
                path: self.path.clone(),
                tensor: name.to_string(),
                what: format!(
                    "{} bytes hold {} values, shape needs {n}",
                    bytes.len(),
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// Raw bytes and dtype of `name` (integer tensors, packed data).
    pub fn raw(&self, name: &str) -> Option<(Dtype, &[u8])> {
        let info = self.metadata.info(name)?;
        let base = 8 + self.header_len;
        let (start, end) = info.data_offsets;
        Some((info.dtype, self.map.get(base + start..base + end)?))
    }
}

impl crate::nn::init::WeightSource for SafetensorsFile {
    type Error = ModelError;

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        self.to_f32(name, Some(shape))
    }

    fn load_stored(&self, name: &str, shape: &[usize]) -> Result<Option<TensorData>, ModelError> {
        self.to_data(name, shape).map(Some)
    }

    fn contains(&self, name: &str) -> bool {
        SafetensorsFile::contains(self, name)
    }
}
