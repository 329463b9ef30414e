//! Cross-field rules, stage references (`after`) and the seed's findings as warnings.

use crate::check::cx::Cx;
use crate::check::doc::{Doc, StageKind};
use crate::check::value::format_float;
use crate::diag::{LangDiagnostic, suggest};
use crate::ir::{Decay, Eval, EvalOn, Length, Lora, Optimizer, Task, Train};
use crate::span::Span;
use crate::syntax::ast::ExprKind;

/// The span of a key's value as written (or of the stage header when the key is defaulted).
pub fn value_span(doc: &Doc, kind: StageKind, key: &str) -> Option<Span> {
    doc.stage(kind, None)
        .and_then(|s| s.key(key))
        .map(|k| k.value.span)
}

fn header(doc: &Doc, kind: StageKind) -> Span {
    doc.stage(kind, None).map_or(doc.main, |s| s.header)
}

/// Reports a stage that another needs.
pub fn missing_stage(cx: &mut Cx, doc: &Doc, stage: &str, needed_by: &str) {
    let span = match StageKind::from_name(needed_by) {
        Some(kind) => header(doc, kind),
        None => doc.main,
    };
    cx.push(LangDiagnostic::MissingStage {
        stage: stage.to_string(),
        needed_by: needed_by.to_string(),
        src: cx.src(span),
        span: span.into(),
        help: format!("add a `{stage} {{ … }}` block (see docs/language.md)"),
    });
}

/// Stage-graph node names a pipeline can refer to in `after`.
pub fn node_names(doc: &Doc) -> Vec<String> {
    let mut names = vec!["tokenize".to_string()];
    names.extend(
        doc.stages
            .iter()
            .filter(|s| s.kind != StageKind::SweepVars)
            .map(|s| s.label()),
    );
    names
}

/// Reads every `after = [stage, …]` into (stage, must-follow) pairs.
pub fn after(cx: &mut Cx, doc: &Doc) -> Option<Vec<(String, String)>> {
    let names = node_names(doc);
    let choices: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut pairs = Vec::new();
    let mut ok = true;
    for stage in &doc.stages {
        let Some(key) = stage.key("after") else {
            continue;
        };
        let items = match &key.value.kind {
            ExprKind::List(items) => items.iter().collect::<Vec<_>>(),
            _ => vec![&key.value],
        };
        for item in items {
            let ExprKind::Path(path) = &item.kind else {
                cx.push(LangDiagnostic::WrongType {
                    expected: "a stage name".into(),
                    found: "a value".into(),
                    src: cx.src(item.span),
                    span: item.span.into(),
                    help: "`after` lists stages, e.g. `after = [eval.before]`".into(),
                });
                ok = false;
                continue;
            };
            let name = path.dotted();
            if !names.contains(&name) {
                cx.push(LangDiagnostic::UndefinedReference {
                    name: name.clone(),
                    src: cx.src(item.span),
                    span: item.span.into(),
                    help: suggest(&name, &choices),
                });
                ok = false;
                continue;
            }
            pairs.push((stage.label(), name));
        }
    }
    ok.then_some(pairs)
}

/// The stages that converted without errors (a failed stage skips only its own rules).
pub struct Parts<'a> {
    /// The lora stage.
    pub lora: Option<&'a Lora>,
    /// The train stage.
    pub train: Option<&'a Train>,
    /// The eval stages.
    pub evals: &'a [Eval],
    /// Whether an export stage is written.
    pub export: bool,
}

/// Rules that involve more than one key, and the seed's warnings.
pub fn cross_field(cx: &mut Cx, doc: &Doc, config: &Parts<'_>) {
    let absent = |kind| doc.stage(kind, None).is_none();
    if doc.stage(StageKind::Train, None).is_some() {
        if absent(StageKind::Dataset) {
            missing_stage(cx, doc, "dataset", "train");
        }
        if absent(StageKind::Lora) {
            missing_stage(cx, doc, "lora", "train");
        }
    }
    if let Some(train) = config.train {
        let batch_span = value_span(doc, StageKind::Train, "batch_size")
            .unwrap_or(header(doc, StageKind::Train));
        if train.batch_size % train.micro_batch_size.max(1) != 0 {
            let micro = value_span(doc, StageKind::Train, "micro_batch_size");
            cx.push(LangDiagnostic::BatchNotDivisible {
                batch: u64::from(train.batch_size),
                micro: u64::from(train.micro_batch_size),
                src: cx.src(batch_span),
                span: batch_span.into(),
                micro_span: cx.same_file(batch_span, micro),
                help: format!(
                    "gradients accumulate over batch_size / micro_batch_size micro-batches; try batch_size = {}",
                    (u64::from(train.batch_size) / u64::from(train.micro_batch_size.max(1))).max(1) * u64::from(train.micro_batch_size)
                ),
            });
        }
        let iters = value_span(doc, StageKind::Train, "max_iters");
        let epochs = value_span(doc, StageKind::Train, "epochs");
        if let (Some(iters), Some(epochs)) = (iters, epochs) {
            cx.push(LangDiagnostic::Conflict {
                first: "max_iters".into(),
                second: "epochs".into(),
                src: cx.src(epochs),
                span: epochs.into(),
                first_span: cx.same_file(epochs, Some(iters)),
                help: "train either for a number of iterations or of epochs; remove one".into(),
            });
        }
        if let (Some(steps), warmup) = (train.optimizer_steps(), train.schedule.warmup_steps)
            && warmup > 0
            && warmup >= steps
        {
            let span = value_span(doc, StageKind::Train, "schedule")
                .unwrap_or(header(doc, StageKind::Train));
            cx.push(LangDiagnostic::WarmupTooLong {
                warmup,
                steps,
                src: cx.src(span),
                span: span.into(),
                help: format!(
                    "max_iters counts micro-batches: {} iterations / {} per step = {steps} optimizer steps; shorten warmup or train longer",
                    match train.length {
                        Length::Iters(i) => i,
                        Length::Epochs(_) => 0,
                    },
                    train.grad_accum()
                ),
            });
        }
        if let Length::Epochs(e) = train.length
            && e > 1.0
        {
            let span = epochs.unwrap_or(header(doc, StageKind::Train));
            cx.push(LangDiagnostic::MultipleEpochs {
                epochs: format_float(e),
                src: cx.src(span),
                span: span.into(),
            });
        }
        if matches!(train.optimizer, Optimizer::Sgd { .. })
            && train.schedule.decay == Decay::Constant
        {
            let span = value_span(doc, StageKind::Train, "optimizer")
                .unwrap_or(header(doc, StageKind::Train));
            cx.push(LangDiagnostic::SgdConstant {
                src: cx.src(span),
                span: span.into(),
            });
        }
    }
    for eval in config.evals {
        let span = doc
            .stage(
                StageKind::Eval,
                (eval.name != "eval").then_some(eval.name.as_str()),
            )
            .map_or(doc.main, |s| s.header);
        if eval.on.contains(&EvalOn::Adapter) && absent(StageKind::Train) {
            cx.push(LangDiagnostic::MissingStage {
                stage: "train".into(),
                needed_by: format!("eval {}", eval.name),
                src: cx.src(span),
                span: span.into(),
                help: "evaluating `on = adapter` needs a trained adapter; use `on = base` or add a `train` block".into(),
            });
        }
        if eval.tasks.iter().any(|t| matches!(t, Task::Heldout { .. }))
            && absent(StageKind::Dataset)
        {
            missing_stage(cx, doc, "dataset", "eval");
        }
    }
    if config.export && absent(StageKind::Train) {
        missing_stage(cx, doc, "train", "export");
    }
    if let Some(lora) = config.lora {
        let r_span = value_span(doc, StageKind::Lora, "r").unwrap_or(header(doc, StageKind::Lora));
        if lora.r >= 512 {
            cx.push(LangDiagnostic::LargeRank {
                r: u64::from(lora.r),
                src: cx.src(r_span),
                span: r_span.into(),
            });
        }
        if (lora.alpha - 2.0 * f64::from(lora.r)).abs() > 1e-9 {
            let span = value_span(doc, StageKind::Lora, "alpha").unwrap_or(r_span);
            cx.push(LangDiagnostic::AlphaNotTwiceR {
                alpha: format_float(lora.alpha),
                r: u64::from(lora.r),
                src: cx.src(span),
                span: span.into(),
                ratio: format_float(lora.alpha / f64::from(lora.r)),
            });
        }
    }
}
