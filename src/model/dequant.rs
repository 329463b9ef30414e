//! GGUF tensor data to `f32`, bit-for-bit like `gguf.quants.dequantize`, and undoing
//! llama.cpp's q/k row permutation.

use half::{bf16, f16};

use super::error::ModelError;
use super::gguf::{GgmlType, GgufFile, TensorInfo};

/// Dequantizes `bytes` holding `n` elements of type `ty`; `None` for unsupported types or a
/// byte count that does not match.
pub fn dequantize_bytes(ty: GgmlType, bytes: &[u8], n: usize) -> Option<Vec<f32>> {
    if ty.bytes_for(n as u64)? != bytes.len() as u64 {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    match ty {
        GgmlType::F32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ),
        GgmlType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
        ),
        GgmlType::Bf16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32()),
        ),
        GgmlType::Q8_0 => {
            for block in bytes.chunks_exact(34) {
                let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
                out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
            }
        }
        GgmlType::Q4_0 => {
            for block in bytes.chunks_exact(18) {
                let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
                let qs = &block[2..];
                // Low nibbles hold elements 0..16, high nibbles 16..32.
                out.extend(qs.iter().map(|&q| f32::from((q & 0x0F) as i8 - 8) * d));
                out.extend(qs.iter().map(|&q| f32::from((q >> 4) as i8 - 8) * d));
            }
        }
        GgmlType::Q4_1 => {
            for block in bytes.chunks_exact(20) {
                let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
                let m = f16::from_le_bytes([block[2], block[3]]).to_f32();
                let qs = &block[4..];
                // Separate multiply and add (no FMA), exactly as numpy computes `d * q + m`.
                out.extend(qs.iter().map(|&q| d * f32::from(q & 0x0F) + m));
                out.extend(qs.iter().map(|&q| d * f32::from(q >> 4) + m));
            }
        }
        GgmlType::Other(_) => return None,
    }
    Some(out)
}

/// Dequantizes a tensor of `file` into row-major `f32` values.
pub fn dequantize(file: &GgufFile, info: &TensorInfo) -> Result<Vec<f32>, ModelError> {
    let n = info.n_elements().unwrap_or(0) as usize;
    dequantize_bytes(info.ty, file.data(info), n).ok_or_else(|| match info.ty {
        GgmlType::Other(_) => ModelError::UnsupportedType {
            path: file.path().to_path_buf(),
            tensor: info.name.clone(),
            ty: info.ty.to_string(),
        },
        _ => ModelError::TensorCorrupt {
            path: file.path().to_path_buf(),
            tensor: info.name.clone(),
            what: format!("its data does not hold {n} {} elements", info.ty),
        },
    })
}

/// Undoes llama.cpp's rotary permutation of `attn_q`/`attn_k` rows, giving the HF layout.
///
/// llama.cpp interleaves the two rotary halves of each head; transformers restores them with
/// `w.reshape(n_head, head_dim/2, 2, in).swapaxes(1, 2).reshape(out, in)`. `w` is row-major
/// `[rows, cols]`; returns `None` when `rows` is not a multiple of `2 * n_head`.
pub fn unpermute_qk(w: &[f32], rows: usize, cols: usize, n_head: usize) -> Option<Vec<f32>> {
    if n_head == 0 || !rows.is_multiple_of(2 * n_head) || w.len() != rows * cols {
        return None;
    }
    let head_dim = rows / n_head;
    let half = head_dim / 2;
    let mut out = vec![0.0f32; w.len()];
    for h in 0..n_head {
        for a in 0..2 {
            for j in 0..half {
                let dst = h * head_dim + a * half + j;
                let src = h * head_dim + j * 2 + a;
                out[dst * cols..(dst + 1) * cols].copy_from_slice(&w[src * cols..(src + 1) * cols]);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_block_layout() {
        // d = 0.5; nibble pairs (lo=j, hi=15-j).
        let mut block = f16::from_f32(0.5).to_le_bytes().to_vec();
        block.extend((0u8..16).map(|j| j | ((15 - j) << 4)));
        let v = dequantize_bytes(GgmlType::Q4_0, &block, 32).unwrap();
        assert_eq!(v[0], -4.0);
        assert_eq!(v[15], 3.5);
        assert_eq!(v[16], 3.5);
        assert_eq!(v[31], -4.0);
    }

    #[test]
    fn q4_1_and_q8_0_blocks() {
        let mut block = f16::from_f32(0.25).to_le_bytes().to_vec();
        block.extend(f16::from_f32(-1.0).to_le_bytes());
        block.extend([0x21u8; 16]);
        let v = dequantize_bytes(GgmlType::Q4_1, &block, 32).unwrap();
        assert_eq!((v[0], v[16]), (0.25 - 1.0, 0.5 - 1.0));

        let mut block = f16::from_f32(2.0).to_le_bytes().to_vec();
        block.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let v = dequantize_bytes(GgmlType::Q8_0, &block, 32).unwrap();
        assert_eq!((v[0], v[31]), (-32.0, 30.0));
    }

    #[test]
    fn half_floats_and_size_checks() {
        let bytes = [
            f16::from_f32(1.5).to_le_bytes(),
            bf16::from_f32(-3.0).to_le_bytes(),
        ];
        assert_eq!(
            dequantize_bytes(GgmlType::F16, &bytes[0], 1).unwrap(),
            [1.5]
        );
        assert_eq!(
            dequantize_bytes(GgmlType::Bf16, &bytes[1], 1).unwrap(),
            [-3.0]
        );
        assert!(dequantize_bytes(GgmlType::F32, &[0; 7], 2).is_none());
        assert!(dequantize_bytes(GgmlType::Q8_0, &[0; 34], 16).is_none());
        assert!(dequantize_bytes(GgmlType::Other(12), &[0; 144], 256).is_none());
    }

    #[test]
    fn unpermute_restores_rotary_halves() {
        // One head of dim 4, one column: llama.cpp order [x0, x2, x1, x3] → HF [x0, x1, x2, x3].
        let w = [0.0, 2.0, 1.0, 3.0];
        assert_eq!(unpermute_qk(&w, 4, 1, 1).unwrap(), [0.0, 1.0, 2.0, 3.0]);
        assert!(unpermute_qk(&w, 4, 1, 3).is_none());
    }
}
