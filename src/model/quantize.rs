//! QLoRA: quantizes a loaded Llama's frozen base linears to bitsandbytes NF4/FP4.
//!
//! ```text
//! dense [d_in, d_out] ─ host, HF layout [d_out, d_in] ─ sha256 ─┬─ cache hit: read safetensors
//!                                                               └─ quantize, write atomically
//!                                            ─> LinearWeight::Packed4 (LoRA stays on top)
//! ```
//!
//! The cache key hashes every selected weight's f32 bytes, name and shape with the settings, so
//! a sweep over learning rates or ranks quantizes the base once, and a GGUF Q4_1 model (loaded
//! as dequantized f32) is requantized exactly like a safetensors one. The cache file is the
//! transformers/bitsandbytes 4-bit serialization (`quant::serialize::tensor_parts`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use sha2::{Digest, Sha256};

use crate::ir::quant::{QuantType as IrQuantType, Quantize};
use crate::ir::target::LoraTarget;
use crate::nn::quant_linear::PackedWeight;
use crate::nn::{Linear, LinearWeight, Llama};
use crate::quant::serialize::{read_quantized_tensors, tensor_parts};
use crate::quant::{QuantError, QuantType, QuantizedTensor, check_block_size, quantize};

/// Bumped when the cache file's meaning changes, so old entries are never misread.
const CACHE_VERSION: &str = "lpipe-qlora-cache-v1";

/// What [`quantize_llama`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeReport {
    /// Linears now held in 4 bits, by PEFT module path.
    pub modules: Vec<String>,
    /// Bytes those weights took as f32.
    pub dense_bytes: usize,
    /// Bytes they take packed (nibbles plus block statistics).
    pub packed_bytes: usize,
    /// The cache file read or written (`None` without a cache directory).
    pub cache_file: Option<PathBuf>,
    /// The quantized weights came from the cache.
    pub cache_hit: bool,
}

/// The linears QLoRA quantizes when a pipeline names none: every decoder linear (attention and
/// MLP), not the head, as transformers' bitsandbytes integration skips `lm_head`.
pub fn default_modules() -> Vec<LoraTarget> {
    vec![
        LoraTarget::Query,
        LoraTarget::Key,
        LoraTarget::Value,
        LoraTarget::Projection,
        LoraTarget::Mlp,
    ]
}

/// The `quantize_4bit` type of an IR quantization kind.
pub fn quant_type(kind: IrQuantType) -> QuantType {
    match kind {
        IrQuantType::Nf4 => QuantType::Nf4,
        IrQuantType::Fp4 => QuantType::Fp4,
    }
}

/// True when the linear at PEFT path `path` (`model.layers.3.mlp.up_proj`, `lm_head`) belongs to
/// one of `targets`.
pub fn is_selected(path: &str, targets: &[LoraTarget]) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    targets.iter().any(|t| t.hf_modules().contains(&leaf))
}

/// Quantizes the dense base weight of every linear `settings.modules` selects (already-packed
/// ones are kept), caching the result under `cache_dir/quantized/` when a directory is given.
/// LoRA adapters already on those linears are kept: the base is frozen, the adapter trains.
pub fn quantize_llama(
    mut model: Llama,
    settings: &Quantize,
    cache_dir: Option<&Path>,
    device: &Device,
) -> Result<(Llama, QuantizeReport), QuantError> {
    let block_size = settings.block_size as usize;
    check_block_size(block_size)?;
    let qt = quant_type(settings.kind);

    // 1. the selected dense weights, on the host in HF layout
    let mut sources = Vec::new();
    for (path, linear) in model.linears() {
        if is_selected(&path, &settings.modules)
            && let LinearWeight::Dense(_) = linear.weight
        {
            sources.push((format!("{path}.weight"), hf_layout(linear)?));
        }
    }
    let dense_bytes = sources.iter().map(|(_, (v, _))| 4 * v.len()).sum();

    // 2. the cache, else quantize (and fill the cache)
    // Hashing every weight costs seconds per billion parameters: only when there is a cache.
    let cache_file = cache_dir.map(|d| {
        let key = cache_key(settings, qt, &sources);
        d.join("quantized").join(format!("{key}.safetensors"))
    });
    let cached = match &cache_file {
        Some(f) if f.is_file() => read_cache(f, &sources)?,
        _ => None,
    };
    let cache_hit = cached.is_some();
    let mut quantized = match cached {
        Some(q) => q,
        None => {
            let mut out = BTreeMap::new();
            for (name, (values, shape)) in &sources {
                let q = quantize(name, values, shape, qt, block_size, settings.double_quant)?;
                out.insert(name.clone(), q);
            }
            if let Some(f) = &cache_file {
                write_cache(f, &out)?;
            }
            out
        }
    };
    drop(sources);

    // 3. swap the weights in place
    let mut modules = Vec::new();
    let mut packed_bytes = 0;
    for (path, linear) in model.linears_mut() {
        if let Some(q) = quantized.remove(&format!("{path}.weight")) {
            let p = PackedWeight::new(q, device)?;
            packed_bytes += p.nbytes();
            linear.weight = LinearWeight::Packed4(p);
            modules.push(path);
        }
    }
    let report = QuantizeReport {
        modules,
        dense_bytes,
        packed_bytes,
        cache_file,
        cache_hit,
    };
    Ok((model, report))
}

type Source = (Vec<f32>, Vec<usize>);

/// The layer's dense weight `[d_in, d_out]` as row-major `[d_out, d_in]` f32 (HF layout).
fn hf_layout(linear: &Linear) -> Result<Source, QuantError> {
    let (d_in, d_out) = linear.weight.dims();
    let t = linear.weight.dense().without_autodiff().transpose();
    let values: Vec<f32> =
        t.into_data()
            .convert::<f32>()
            .try_to_vec()
            .map_err(|e| QuantError::Inconsistent {
                name: "<linear weight>".into(),
                reason: format!("cannot read the dense weight: {e:?}"),
            })?;
    Ok((values, vec![d_out, d_in]))
}

fn cache_key(settings: &Quantize, qt: QuantType, sources: &[(String, Source)]) -> String {
    let mut h = Sha256::new();
    h.update(CACHE_VERSION.as_bytes());
    h.update(format!(
        "|{}|dq={}|bs={}|",
        qt.name(),
        settings.double_quant,
        settings.block_size
    ));
    for (name, (values, shape)) in sources {
        h.update(format!("{name}:{shape:?}:").as_bytes());
        h.update(bytemuck::cast_slice::<f32, u8>(values));
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The cached tensors when the file holds every source with its shape; `None` (requantize) when
/// it does not, e.g. after a partial write by an older version.
fn read_cache(
    path: &Path,
    sources: &[(String, Source)],
) -> Result<Option<BTreeMap<String, QuantizedTensor>>, QuantError> {
    let read_err = |reason: String| QuantError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| read_err(e.to_string()))?;
    let tensors = read_quantized_tensors(&st)?;
    let complete = sources.iter().all(|(name, (_, shape))| {
        tensors
            .get(name)
            .is_some_and(|q| &q.shape == shape && q.numel() == shape.iter().product::<usize>())
    });
    Ok(complete.then_some(tensors))
}

fn write_cache(path: &Path, tensors: &BTreeMap<String, QuantizedTensor>) -> Result<(), QuantError> {
    let write_err = |reason: String| QuantError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let parts: Vec<_> = tensors
        .iter()
        .flat_map(|(name, q)| tensor_parts(name, q))
        .collect();
    let bytes = safetensors::serialize(parts, None).map_err(|e| write_err(e.to_string()))?;
    crate::io::write_atomic(path, &bytes).map_err(|e| write_err(e.to_string()))
}
