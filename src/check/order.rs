//! `after` edges against the order `lpipe run` executes stages in: an edge that order already
//! satisfies takes effect; one it contradicts is refused (E121) instead of silently ignored.

use crate::check::cx::Cx;
use crate::check::doc::Doc;
use crate::diag::LangDiagnostic;
use crate::ir::{EvalOn, RunConfig};

/// The run order, as `lpipe run` follows it.
const ORDER: &str = "dataset → tokenize → model → quantize → evaluations on the base → lora → \
                     train → export → evaluations with the adapter → report";

/// (first, last) position of a stage label in [`ORDER`]; an eval on both models spans two.
fn positions(config: &RunConfig, label: &str) -> Option<(u8, u8)> {
    let fixed = match label {
        "dataset" => Some(0),
        "tokenize" => Some(1),
        "model" => Some(2),
        "quantize" => Some(3),
        "lora" => Some(5),
        "train" => Some(6),
        "export" => Some(7),
        "report" => Some(9),
        _ => None,
    };
    if let Some(p) = fixed {
        return Some((p, p));
    }
    let eval = config.evals.iter().find(|e| {
        let name = label.strip_prefix("eval.").unwrap_or(label);
        e.name == name && (label.starts_with("eval.") || label == "eval")
    })?;
    let at = |on: &EvalOn| match on {
        EvalOn::Base => 4,
        EvalOn::Adapter => 8,
    };
    let first = eval.on.iter().map(at).min()?;
    let last = eval.on.iter().map(at).max()?;
    Some((first, last))
}

/// Refuses every `after` edge the run order contradicts, pointing at the edge's stage.
pub fn check(cx: &mut Cx, doc: &Doc, config: &RunConfig) {
    for (stage, first) in &config.after {
        let (Some((starts, _)), Some((_, ends))) =
            (positions(config, stage), positions(config, first))
        else {
            continue;
        };
        if starts > ends {
            continue;
        }
        let span = doc
            .stages
            .iter()
            .find(|s| &s.label() == stage)
            .and_then(|s| s.key("after"))
            .map_or(doc.main, |k| k.value.span);
        cx.push(LangDiagnostic::NotImplemented {
            what: format!("running `{stage}` after `{first}`"),
            src: cx.src(span),
            span: span.into(),
            help: format!(
                "`lpipe run` follows one order ({ORDER}); `after` edges that agree with it hold, \
                 others are not supported yet"
            ),
        });
    }
}
