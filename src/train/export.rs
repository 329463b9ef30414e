//! Adapter export: the PEFT adapter as is, or merged into the base weights (`merge_and_unload`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::io::StagedDir;
use crate::train::TrainError;
use crate::train::adapter::Adapter;
use crate::train::gguf_export::gguf_as_hf;
use crate::train::merge::{RawTensor, merge_adapter, raw_to_bytes, read_raw};

/// Side files of a Hugging Face model directory copied next to merged weights.
const SIDE_FILES: [&str; 7] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "chat_template.jinja",
];

/// The weight files of a model path: the file itself, `model.safetensors`, or the shards an
/// index lists.
fn weight_files(model: &Path) -> Result<Vec<PathBuf>, TrainError> {
    if model.is_file() {
        return Ok(vec![model.to_path_buf()]);
    }
    let single = model.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = model.join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).map_err(|e| TrainError::io("read", &index, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| TrainError::Json {
        path: index.clone(),
        reason: e.to_string(),
    })?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| TrainError::Json {
            path: index.clone(),
            reason: "no `weight_map` object".into(),
        })?;
    let mut files: Vec<PathBuf> = map
        .values()
        .filter_map(|f| f.as_str())
        .map(|f| model.join(f))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Writes the adapter in `adapter_dir` to `output` (replaced atomically) and returns what was
/// written; with `merge`, writes the base `model` with the adapter folded in instead.
pub fn export(
    adapter_dir: &Path,
    model: Option<&Path>,
    merge: bool,
    output: &Path,
) -> Result<String, TrainError> {
    let adapter = Adapter::load(adapter_dir)?;
    if !merge {
        adapter.save(output)?;
        return Ok(format!(
            "wrote adapter ({} tensors) to {}",
            adapter.tensors.len(),
            output.display()
        ));
    }
    let model = model
        .ok_or_else(|| TrainError::config("model", "--merge needs --model <base checkpoint>"))?;
    let is_gguf = model.extension().is_some_and(|e| e == "gguf");
    let mut base: BTreeMap<String, RawTensor> = BTreeMap::new();
    let mut config_json = None;
    if is_gguf {
        // Dequantized to f32 in HF names and layout; config.json is written from the GGUF.
        let (tensors, cfg) = gguf_as_hf(model)?;
        base = tensors;
        config_json = Some(cfg);
    } else {
        for f in weight_files(model)? {
            base.extend(read_raw(&f)?);
        }
    }
    let n = merge_adapter(&mut base, &adapter)?;
    let write = |e| TrainError::io("write", output, e);
    let staged = StagedDir::new(output).map_err(write)?;
    staged
        .write("model.safetensors", &raw_to_bytes(&base)?)
        .map_err(write)?;
    if let Some(cfg) = config_json {
        let text = serde_json::to_string_pretty(&cfg).unwrap_or_default();
        staged
            .write("config.json", text.as_bytes())
            .map_err(write)?;
    }
    if model.is_dir() {
        for side in SIDE_FILES {
            let src = model.join(side);
            if src.is_file() {
                let bytes = std::fs::read(&src).map_err(|e| TrainError::io("read", &src, e))?;
                staged.write(side, &bytes).map_err(write)?;
            }
        }
    }
    staged.commit().map_err(write)?;
    Ok(format!(
        "merged {n} LoRA modules into {} tensors; wrote {}",
        base.len(),
        output.join("model.safetensors").display()
    ))
}
