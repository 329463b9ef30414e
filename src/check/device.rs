//! Preflight of a checked pipeline's devices: every device its runs need, opened in its precision
//! before anything runs, with a failure pointing at the key to change.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

use crate::check::Checked;
use crate::diag::Src;
use crate::ir;
use crate::model::device::{Blame, DeviceSpec};
use crate::model::error::ModelError;

/// A run's device or precision that this binary or machine cannot provide, pointing at the key.
#[derive(Debug, Error, Diagnostic)]
#[error("device `{spec}`: {what}")]
#[diagnostic(code(lpipe::E317), help("{help}"))]
pub struct DeviceUnavailable {
    /// The device as resolved (`cuda:0`).
    pub spec: String,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub help: String,
    /// The pipeline file, when the key was found in it.
    #[source_code]
    pub src: Option<Src>,
    /// The key's value.
    #[label("{label}")]
    pub span: Option<SourceSpan>,
    /// Text under the span.
    pub label: String,
}

/// Opens every device `runs` need in their precision before anything runs (so a missing backend
/// is reported at once, not after data preparation), and configures each device's float type.
/// Fails only when no run can open its device: in a sweep the points that can still run do, and the
/// others fail at their model stage and are reported with the failed runs.
pub fn preflight<'a>(
    runs: impl IntoIterator<Item = &'a ir::Run>,
    checked: &Checked,
) -> Result<(), Box<DeviceUnavailable>> {
    let (mut first, mut any_ok) = (None, false);
    for run in runs {
        match unavailable(run, checked) {
            None => any_ok = true,
            Some(e) => {
                first.get_or_insert(e);
            }
        }
    }
    match first {
        Some(e) if !any_ok => Err(e),
        _ => Ok(()),
    }
}

/// Why `run`'s device cannot be opened in its precision, pointing at the key to change.
fn unavailable(run: &ir::Run, checked: &Checked) -> Option<Box<DeviceUnavailable>> {
    let model = &run.config.model;
    let spec = DeviceSpec::from(model.device);
    let Err((blame, e)) = spec.open(model.precision) else {
        return None;
    };
    let ModelError::Device { spec, what, help } = e else {
        return None;
    };
    let (key, label) = match blame {
        Blame::Device => ("model.device", "this device"),
        Blame::Precision => ("model.precision", "this precision"),
    };
    let at = checked
        .locate(key)
        .or_else(|| checked.locate("model.device"));
    Some(Box::new(DeviceUnavailable {
        spec,
        what,
        help,
        src: at.as_ref().map(|(src, _)| src.clone()),
        span: at.map(|(_, span)| span),
        label: label.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(model: &str) -> String {
        format!(
            "dataset {{\n  source = arithmetic(digits = 2, ops = [plus], count = 8, seed = 1)\n  \
             template = alpaca\n}}\nmodel {{\n  source = \"m.gguf\"\n{model}}}\n"
        )
    }

    /// The diagnostic's span covers `text` in the checked file.
    fn points_at(e: &DeviceUnavailable, text: &str, file: &str) {
        let span = e.span.expect("a span");
        let at = &file[span.offset()..span.offset() + span.len()];
        assert_eq!(at, text, "{e:?}");
        assert_eq!(e.code().unwrap().to_string(), "lpipe::E317");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn run_on_cuda_without_the_backend_points_at_the_device_key() {
        let file = pipeline("  device = cuda(0)\n  precision = bf16\n");
        let checked = crate::check::check_text("gpu.lpipe", &file, &[]);
        let pipeline = checked.pipeline.as_ref().expect("the file checks");
        let e = preflight(&pipeline.runs, &checked).unwrap_err();
        points_at(&e, "cuda(0)", &file);
        assert_eq!(e.spec, "cuda:0");
        assert!(e.help.contains("--features cuda"), "{}", e.help);
        assert!(e.help.contains("scripts/llvm-offline.sh"), "{}", e.help);
    }

    #[test]
    fn bf16_on_cpu_points_at_the_precision_key() {
        let file = pipeline("  device = cpu\n  precision = bf16\n");
        let checked = crate::check::check_text("cpu.lpipe", &file, &[]);
        let pipeline = checked.pipeline.as_ref().expect("the file checks");
        let e = preflight(&pipeline.runs, &checked).unwrap_err();
        points_at(&e, "bf16", &file);
        let ok = pipeline_ok("  device = cpu\n  precision = f32\n");
        assert!(ok, "f32 on cpu passes the preflight");
    }

    fn pipeline_ok(model: &str) -> bool {
        let checked = crate::check::check_text("ok.lpipe", &pipeline(model), &[]);
        let pipeline = checked.pipeline.as_ref().expect("the file checks");
        preflight(&pipeline.runs, &checked).is_ok()
    }
}
