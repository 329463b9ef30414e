//! `model { … }` → [`ir::Model`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, as_choice, resolve_path, wrong_type};
use crate::check::value::{Val, Value};
use crate::ir::{Device, Model, ModelSource, Precision};

/// Converts the model stage; `arch_names` are the built-in architectures.
pub fn model(cx: &mut Cx, f: &mut Fields, arch_names: &[&str]) -> Option<Model> {
    let source = f.required(
        cx,
        "source",
        "a path, `hf(\"org/name\")` or `wheel(\"pkg==ver\", \"file\")`",
    );
    let source = source.and_then(|v| model_source(cx, &v));
    let arch = match f.value("arch") {
        Ok(None) => Some(None),
        Ok(Some(v)) => arch(cx, &v, arch_names).map(Some),
        Err(Invalid) => None,
    };
    let device = match f.value("device") {
        Ok(None) => Some(Device::Cpu),
        Ok(Some(v)) => device(cx, &v),
        Err(Invalid) => None,
    };
    // CPUs compute in f32; accelerators default to bf16 as the seed's runs did.
    let default_precision = if device == Some(Device::Cpu) {
        "f32"
    } else {
        "bf16"
    };
    let precision = f
        .choice(
            cx,
            "precision",
            Some(default_precision),
            "precision",
            &["f32", "bf16", "f16"],
        )
        .map(|p| precision(&p));
    let device_memory = f.opt_size(cx, "device_memory");
    // Like axolotl's `tokenizer_config`: another tokenizer than the checkpoint's, e.g. when the
    // weights are not downloaded yet and `lpipe plan` should still measure token lengths.
    let tokenizer_span = f.span("tokenizer");
    let tokenizer = f
        .opt_string(cx, "tokenizer")
        .map(|p| p.map(|p| resolve_path(cx, tokenizer_span, &p)));
    Some(Model {
        source: source?,
        arch: arch?,
        precision: precision?,
        device: device?,
        device_memory: device_memory.ok()?,
        tokenizer: tokenizer.ok()?,
    })
}

/// Parses a precision name already validated by `choice`.
pub fn precision(name: &str) -> Precision {
    match name {
        "f32" => Precision::F32,
        "f16" => Precision::F16,
        _ => Precision::Bf16,
    }
}

fn arch(cx: &mut Cx, v: &Val, names: &[&str]) -> Option<String> {
    // `llama2_7b` (a bare name) and `"llama2-7b"` mean the same architecture.
    let normalized = match &v.kind {
        Value::Symbol(s) | Value::Str(s) => s.replace('_', "-"),
        _ => {
            wrong_type(cx, "an architecture name", v, Vec::new());
            return None;
        }
    };
    as_choice(
        cx,
        &Val {
            kind: Value::Str(normalized),
            span: v.span,
        },
        "architecture",
        names,
    )
}

fn model_source(cx: &mut Cx, v: &Val) -> Option<ModelSource> {
    let name = match &v.kind {
        Value::Str(path) => return Some(ModelSource::Local(resolve_path(cx, Some(v.span), path))),
        Value::Call { name, .. } => name.node.clone(),
        _ => {
            wrong_type(
                cx,
                "a model source (a path, `hf(…)` or `wheel(…)`)",
                v,
                Vec::new(),
            );
            return None;
        }
    };
    let name = as_choice(
        cx,
        &Val {
            kind: Value::Symbol(name),
            span: v.span,
        },
        "model source",
        &["hf", "wheel", "local"],
    )?;
    match name.as_str() {
        "hf" => {
            let mut a = Fields::call(cx, v, &crate::ir::model::HF_PARAMS)?;
            let repo = a.string(cx, "repo", None);
            let revision = a.opt_string(cx, "revision");
            a.finish(cx);
            Some(ModelSource::Hf {
                repo: repo?,
                revision: revision.ok()?,
            })
        }
        "wheel" => {
            let mut a = Fields::call(cx, v, &crate::ir::model::WHEEL_PARAMS)?;
            let requirement = a.string(cx, "requirement", None);
            let file = a.string(cx, "file", None);
            a.finish(cx);
            Some(ModelSource::Wheel {
                requirement: requirement?,
                file: file?,
            })
        }
        _ => {
            let mut a = Fields::call(cx, v, &crate::ir::model::LOCAL_PARAMS)?;
            let path = a.path(cx, "path", None);
            a.finish(cx);
            Some(ModelSource::Local(path?))
        }
    }
}

fn device(cx: &mut Cx, v: &Val) -> Option<Device> {
    let text = match &v.kind {
        Value::Symbol(s) | Value::Str(s) => s.clone(),
        Value::Call { name, args } => match args.as_slice() {
            [
                (
                    None,
                    Val {
                        kind: Value::Int(i),
                        ..
                    },
                ),
            ] if *i >= 0 => format!("{}:{i}", name.node),
            _ => {
                wrong_type(
                    cx,
                    "a device (`cpu`, `cuda(0)`, `\"cuda:0\"`, `wgpu`)",
                    v,
                    Vec::new(),
                );
                return None;
            }
        },
        _ => {
            wrong_type(
                cx,
                "a device (`cpu`, `cuda(0)`, `\"cuda:0\"`, `wgpu`)",
                v,
                Vec::new(),
            );
            return None;
        }
    };
    let (kind, index) = match text.split_once(':') {
        Some((k, i)) => (k.to_string(), i.parse::<u32>().ok()),
        None => (text.clone(), Some(0)),
    };
    let kind = as_choice(
        cx,
        &Val {
            kind: Value::Str(kind),
            span: v.span,
        },
        "device",
        &["cpu", "cuda", "wgpu"],
    )?;
    let Some(index) = index else {
        wrong_type(cx, "a device index (`cuda:0`)", v, Vec::new());
        return None;
    };
    // The wgpu backend opens the default adapter; an index it would ignore is refused.
    if kind != "cuda" && index != 0 {
        wrong_type(
            cx,
            "`cpu`, `wgpu` or `cuda(N)`: only CUDA GPUs are chosen by index",
            v,
            Vec::new(),
        );
        return None;
    }
    Some(match kind.as_str() {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(index),
        _ => Device::Wgpu(index),
    })
}
