//! One merged document → one [`RunConfig`]: evaluates every stage's keys and converts them.

use crate::check::cx::Cx;
use crate::check::doc::{Doc, StageKind};
use crate::check::eval::Evaluator;
use crate::check::fields::{Fields, as_string};
use crate::check::stages;
use crate::ir::{Precision, RunConfig};

/// The top-level keys of a document.
pub struct Top {
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `runs_dir` (resolved).
    pub runs_dir: Option<std::path::PathBuf>,
}

/// Evaluates a stage's keys (all but `after`, which names stages rather than values).
fn fields(cx: &mut Cx, ev: &mut Evaluator<'_>, index: usize) -> Option<Fields> {
    let stage = ev.doc().stages.get(index)?;
    let mut entries = Vec::new();
    for key in &stage.keys {
        if key.name == "after" {
            continue;
        }
        let val = ev.key(cx, index, &key.name);
        entries.push((key.name.clone(), key.key_span, val));
    }
    let mut f = Fields::new(format!("`{}`", stage.label()), stage.header, entries);
    f.known_key("after");
    Some(f)
}

/// Converts the top-level keys.
pub fn top(cx: &mut Cx, doc: &Doc) -> Top {
    let mut ev = Evaluator::new(doc);
    let mut top = Top {
        name: None,
        description: None,
        runs_dir: None,
    };
    for key in &doc.top {
        let Some(v) = ev.expr(cx, &key.value, None) else {
            continue;
        };
        let Some(s) = as_string(cx, &v) else { continue };
        match key.name.as_str() {
            "name" => top.name = Some(s),
            "description" => top.description = Some(s),
            _ => top.runs_dir = Some(crate::check::fields::resolve_path(cx, Some(v.span), &s)),
        }
    }
    top
}

/// Converts every stage; None if any error was found (they are in `cx`).
pub fn run_config(
    cx: &mut Cx,
    doc: &Doc,
    arch_names: &[&str],
    pipeline: &str,
) -> Option<RunConfig> {
    let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    let mut ev = Evaluator::new(doc);
    let has_train = doc.stage(StageKind::Train, None).is_some();
    let mut dataset = None;
    let mut model = None;
    let mut quantize = None;
    let mut lora = None;
    let mut train_index = None;
    let mut evals = Vec::new();
    let mut export = None;
    let mut report = None;
    for (index, stage) in doc.stages.iter().enumerate() {
        let Some(mut f) = fields(cx, &mut ev, index) else {
            continue;
        };
        match stage.kind {
            StageKind::Dataset => dataset = stages::dataset::dataset(cx, &mut f),
            StageKind::Model => model = stages::model::model(cx, &mut f, arch_names),
            StageKind::Quantize => quantize = stages::quantize::quantize(cx, &mut f),
            StageKind::Lora => lora = stages::lora::lora(cx, &mut f),
            StageKind::Train => {
                train_index = Some(index);
                continue;
            }
            StageKind::Eval => {
                let name = stage.name.clone().unwrap_or_else(|| "eval".to_string());
                evals.extend(stages::eval::eval(cx, &mut f, &name, has_train));
            }
            StageKind::Export => export = stages::export::export(cx, &mut f, pipeline),
            StageKind::Report => report = stages::export::report(cx, &mut f),
            StageKind::SweepVars => continue,
        }
        f.finish(cx);
    }
    // Train's default precision is the model's, so it is converted last.
    let mut train = None;
    if let Some(index) = train_index
        && let Some(mut f) = fields(cx, &mut ev, index)
    {
        let precision = model
            .as_ref()
            .map_or(Precision::Bf16, |m: &crate::ir::Model| m.precision);
        train = stages::train::train(cx, &mut f, precision);
        f.finish(cx);
    }
    let after = crate::check::rules::after(cx, doc);
    let parts = crate::check::rules::Parts {
        lora: lora.as_ref(),
        train: train.as_ref(),
        evals: &evals,
        export: doc.stage(StageKind::Export, None).is_some(),
    };
    crate::check::rules::cross_field(cx, doc, &parts);
    if doc.stage(StageKind::Model, None).is_none() {
        crate::check::rules::missing_stage(cx, doc, "model", "the pipeline");
    }
    let errors_after = cx.diags.iter().filter(|d| d.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    let model = model?;
    Some(RunConfig {
        dataset,
        model,
        quantize,
        lora,
        train,
        evals,
        export,
        report,
        after: after?,
    })
}
