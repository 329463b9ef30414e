//! `lpipe quantize`: a safetensors file or Hugging Face directory in, the same checkpoint with
//! its decoder-layer linear weights in bitsandbytes 4-bit format out.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use super::parts::{Part, tensor_parts};
use super::source::{Mapped, safetensors_files};
use crate::io::StagedDir;
use crate::io::atomic::temp_sibling;
use crate::quant::blockwise::quantize;
use crate::quant::codes::QuantType;
use crate::quant::dtype::Element;
use crate::quant::error::QuantError;
use crate::quant::tensor::QuantizedTensor;
use crate::quant::tensor::check_block_size;

/// What to quantize and how.
#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    /// NF4 or FP4.
    pub quant_type: QuantType,
    /// Also quantize the absmax values (QLoRA's double quantization).
    pub double_quant: bool,
    /// Elements per absmax block.
    pub block_size: usize,
    /// Weights whose name contains any of these stay unquantized (`llm_int8_skip_modules`).
    pub skip: Vec<String>,
    /// Replace an existing output.
    pub force: bool,
}

/// What [`quantize_checkpoint`] did.
#[derive(Debug, Clone, Default)]
pub struct QuantizeSummary {
    /// Weights quantized.
    pub quantized: usize,
    /// Tensors copied unchanged.
    pub kept: usize,
    /// Tensor bytes read.
    pub bytes_before: u64,
    /// Tensor bytes written (packed weights, statistics and kept tensors).
    pub bytes_after: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// True for the weights `lpipe quantize` converts: 2-D `*.weight` tensors inside decoder layers
/// (`…layers.N…`), so embeddings, norms and `lm_head` stay in full precision, as transformers'
/// bitsandbytes integration leaves them.
pub fn is_quantizable(name: &str, shape: &[usize], skip: &[String]) -> bool {
    shape.len() == 2
        && name.ends_with(".weight")
        && name.contains("layers.")
        && !skip.iter().any(|s| name.contains(s.as_str()))
}

/// Quantizes `input` (a `.safetensors` file or HF directory) into `output` atomically.
pub fn quantize_checkpoint(
    input: &Path,
    output: &Path,
    opts: &QuantizeOptions,
) -> Result<QuantizeSummary, QuantError> {
    check_block_size(opts.block_size)?;
    if output.exists() && !opts.force {
        return Err(write_err(
            output,
            "the output exists (pass --force to replace it)",
        ));
    }
    let files = safetensors_files(input)?;
    let mut summary = QuantizeSummary::default();
    if input.is_file() {
        convert_file(input, output, opts, &mut summary)?;
        summary.files.push(output.to_path_buf());
        return Ok(summary);
    }
    // An error midway drops the staged directory; `output` keeps what it held.
    let staged = StagedDir::new(output).map_err(|e| write_err(output, e))?;
    convert_dir(input, &files, staged.path(), opts, &mut summary)?;
    staged.commit().map_err(|e| write_err(output, e))?;
    summary.files = summary
        .files
        .iter()
        .map(|f| output.join(file_name(f)))
        .collect();
    Ok(summary)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn convert_dir(
    input: &Path,
    files: &[PathBuf],
    tmp: &Path,
    opts: &QuantizeOptions,
    summary: &mut QuantizeSummary,
) -> Result<(), QuantError> {
    let mut weight_map = serde_json::Map::new();
    for file in files {
        let dest = tmp.join(file_name(file));
        for name in convert_file(file, &dest, opts, summary)? {
            weight_map.insert(name, serde_json::Value::String(file_name(file)));
        }
        summary.files.push(dest);
    }
    let index = input.join("model.safetensors.index.json");
    if index.is_file() {
        let json = serde_json::json!({
            "metadata": { "total_size": summary.bytes_after },
            "weight_map": weight_map,
        });
        write_json(&tmp.join("model.safetensors.index.json"), &json)?;
    }
    let config = input.join("config.json");
    if config.is_file() {
        let text = std::fs::read_to_string(&config).map_err(|e| read_err(&config, e))?;
        let mut json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| read_err(&config, e))?;
        if let Some(obj) = json.as_object_mut() {
            obj.insert("quantization_config".into(), quantization_config(opts));
        }
        write_json(&tmp.join("config.json"), &json)?;
    }
    copy_side_files(input, tmp)
}

/// transformers' `BitsAndBytesConfig.to_dict()` for the options (what `save_pretrained` writes).
fn quantization_config(opts: &QuantizeOptions) -> serde_json::Value {
    let skip = if opts.skip.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::json!(opts.skip)
    };
    serde_json::json!({
        "_load_in_4bit": true,
        "_load_in_8bit": false,
        "bnb_4bit_compute_dtype": "float32",
        "bnb_4bit_quant_storage": "uint8",
        "bnb_4bit_quant_type": opts.quant_type.name(),
        "bnb_4bit_use_double_quant": opts.double_quant,
        "llm_int8_enable_fp32_cpu_offload": false,
        "llm_int8_has_fp16_weight": false,
        "llm_int8_skip_modules": skip,
        "llm_int8_threshold": 6.0,
        "load_in_4bit": true,
        "load_in_8bit": false,
        "quant_method": "bitsandbytes",
    })
}

/// Copies tokenizer and generation files; weights are rewritten and pickles are never copied.
fn copy_side_files(input: &Path, tmp: &Path) -> Result<(), QuantError> {
    let entries = std::fs::read_dir(input).map_err(|e| read_err(input, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = file_name(&path);
        let skip = name == "config.json"
            || name == "model.safetensors.index.json"
            || [
                ".safetensors",
                ".bin",
                ".pt",
                ".pth",
                ".ckpt",
                ".pkl",
                ".gguf",
            ]
            .iter()
            .any(|x| name.ends_with(x));
        if path.is_file() && !skip {
            std::fs::copy(&path, tmp.join(&name)).map_err(|e| write_err(&tmp.join(&name), e))?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, json: &serde_json::Value) -> Result<(), QuantError> {
    let text = serde_json::to_string_pretty(json).map_err(|e| write_err(path, e))?;
    crate::io::write_atomic(path, text.as_bytes()).map_err(|e| write_err(path, e))
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> QuantError {
    QuantError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Converts one safetensors file; returns the names of the tensors written.
fn convert_file(
    src: &Path,
    dest: &Path,
    opts: &QuantizeOptions,
    summary: &mut QuantizeSummary,
) -> Result<Vec<String>, QuantError> {
    let map = Mapped::open(src)?;
    let st = map.tensors()?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut quantized: Vec<(String, QuantizedTensor)> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    for name in names {
        let view = st.tensor(&name).map_err(|e| read_err(src, e))?;
        if is_quantizable(&name, view.shape(), &opts.skip) {
            let q = quantize_view(&name, &st, opts)?;
            summary.bytes_before += view.data().len() as u64;
            summary.bytes_after += q.nbytes() as u64;
            summary.quantized += 1;
            quantized.push((name, q));
        } else {
            summary.kept += 1;
            summary.bytes_before += view.data().len() as u64;
            summary.bytes_after += view.data().len() as u64;
            kept.push(name);
        }
    }
    let mut entries: Vec<(String, Part<'_>)> = Vec::new();
    for name in &kept {
        let view = st.tensor(name).map_err(|e| read_err(src, e))?;
        entries.push((
            name.clone(),
            Part {
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                data: Cow::Borrowed(view.data()),
            },
        ));
    }
    for (name, q) in &quantized {
        entries.extend(tensor_parts(name, q));
    }
    let written: Vec<String> = entries.iter().map(|(n, _)| n.clone()).collect();
    let mut meta: HashMap<String, String> = map.metadata()?.unwrap_or_default();
    meta.insert("format".into(), "pt".into());
    let tmp = temp_sibling(dest);
    safetensors::serialize_to_file(entries, Some(meta), &tmp).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        write_err(dest, e)
    })?;
    std::fs::rename(&tmp, dest).map_err(|e| write_err(dest, e))?;
    Ok(written)
}

fn quantize_view(
    name: &str,
    st: &SafeTensors<'_>,
    opts: &QuantizeOptions,
) -> Result<QuantizedTensor, QuantError> {
    let view = st.tensor(name).map_err(|e| QuantError::Inconsistent {
        name: name.into(),
        reason: e.to_string(),
    })?;
    let shape = view.shape().to_vec();
    match view.dtype() {
        Dtype::F32 => go::<f32>(name, view.data(), &shape, opts),
        Dtype::BF16 => go::<bf16>(name, view.data(), &shape, opts),
        Dtype::F16 => go::<f16>(name, view.data(), &shape, opts),
        other => Err(QuantError::BadDtype {
            name: name.into(),
            dtype: format!("{other:?}"),
            expected: "F32, BF16 or F16".into(),
        }),
    }
}

fn go<E: Element + bytemuck::Pod>(
    name: &str,
    bytes: &[u8],
    shape: &[usize],
    opts: &QuantizeOptions,
) -> Result<QuantizedTensor, QuantError> {
    // Tensors in safetensors are usually aligned; copy only when one is not.
    let data: Cow<'_, [E]> = match bytemuck::try_cast_slice::<u8, E>(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
    };
    quantize(
        name,
        &data,
        shape,
        opts.quant_type,
        opts.block_size,
        opts.double_quant,
    )
}

/// A write error for `path`.
fn write_err(path: &Path, e: impl std::fmt::Display) -> QuantError {
    QuantError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
