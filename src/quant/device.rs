//! From host 4-bit tensors to [`Packed4`] on a Burn device (the model's 4-bit linear layers).

use burn::tensor::{Device, Tensor};
use lpipe_kernels::{HostQ4, HostScales, Packed4, Q4Layout};

use super::blockwise::quantize;
use super::codes::QuantType;
use super::error::QuantError;
use super::tensor::{Absmax, QuantizedTensor};

impl QuantizedTensor {
    /// The parts the kernels crate uploads; a tensor of rank != 2 is viewed as `[shape[0], rest]`.
    pub fn host_q4(&self) -> HostQ4<'_> {
        let scales = match &self.absmax {
            Absmax::Plain(a) => HostScales::Plain(a),
            Absmax::Nested(n) => HostScales::Nested {
                codes: &n.codes,
                absmax: &n.absmax,
                code: &n.code,
                block_size: n.block_size,
                offset: n.offset,
            },
        };
        let rows = self.shape.first().copied().unwrap_or(1).max(1);
        HostQ4 {
            layout: Q4Layout {
                rows,
                cols: self.numel() / rows,
                block_size: self.block_size,
            },
            packed: &self.packed,
            code: self.code,
            scales,
        }
    }

    /// Uploads the packed weight and its statistics to `device`.
    pub fn to_device(&self, device: &Device) -> Packed4 {
        Packed4::from_host(&self.host_q4(), device)
    }
}

/// Quantizes an `[out, in]` weight exactly as bitsandbytes would and uploads it to the weight's
/// device; `name` labels errors.
pub fn quantize_weight(
    name: &str,
    weight: &Tensor<2>,
    quant_type: QuantType,
    block_size: usize,
    double_quant: bool,
) -> Result<Packed4, QuantError> {
    let shape = weight.dims();
    let data = weight
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| QuantError::BadDtype {
            name: name.to_string(),
            dtype: format!("{e:?}"),
            expected: "a float tensor".into(),
        })?;
    let q = quantize(name, &data, &shape, quant_type, block_size, double_quant)?;
    Ok(q.to_device(&weight.device()))
}
