//! `sweep { grid { … } zip { … } derived = … }` → concrete points, each a modified [`Doc`].
//!
//! Grid keys are independent axes, a zip block is one axis whose lists advance together,
//! and the points are the product of all axes. Plain assignments are derived values
//! recomputed at every point (`lora.alpha = 2 * lora.r`). A key without a stage prefix
//! (`ratio = [1, 2]`) is a sweep variable, referenced as `sweep.ratio`.

use crate::check::cx::Cx;
use crate::check::doc::{Doc, KeyDef, StageKind};
use crate::check::load::set_deep;
use crate::diag::{LangDiagnostic, suggest};
use crate::ir::{Axis, AxisKind, Sweep};
use crate::span::Span;
use crate::syntax::ast::{Assign, Block, Expr, ExprKind, Item};
use crate::syntax::format::format_expr;

/// The most points a sweep may have.
pub const MAX_POINTS: usize = 10_000;

/// One point: the assignments to apply and how to show them.
#[derive(Clone, Debug)]
pub struct Point {
    /// (key, value) assignments: axis values then derived keys.
    pub assigns: Vec<(crate::syntax::ast::Path, Expr)>,
    /// Swept keys and values as written, for names and the IR.
    pub shown: Vec<(String, String)>,
    /// Derived keys (their values are shown after evaluation).
    pub derived: Vec<String>,
}

struct AxisDef {
    kind: AxisKind,
    keys: Vec<(crate::syntax::ast::Path, Vec<Expr>)>,
}

/// Reads the sweep block; None (with diagnostics) if it is malformed.
pub fn axes(cx: &mut Cx, block: &Block) -> Option<(Sweep, Vec<Point>)> {
    let mut axes: Vec<AxisDef> = Vec::new();
    let mut derived: Vec<&Assign> = Vec::new();
    let mut ok = true;
    for item in &block.items {
        match item {
            Item::Block(b)
                if b.name.is_none() && (b.kind.node == "grid" || b.kind.node == "zip") =>
            {
                let zip = b.kind.node == "zip";
                let mut zip_axis = AxisDef {
                    kind: AxisKind::Zip,
                    keys: Vec::new(),
                };
                for inner in &b.items {
                    let Item::Assign(a) = inner else {
                        ok = false;
                        nested(cx, inner.span(), &b.kind.node);
                        continue;
                    };
                    let ExprKind::List(values) = &a.value.kind else {
                        ok = false;
                        cx.push(LangDiagnostic::WrongType {
                            expected: "a list of values".into(),
                            found: "a single value".into(),
                            src: cx.src(a.value.span),
                            span: a.value.span.into(),
                            help: format!(
                                "a swept key takes a list: `{} = [{}]`",
                                a.key.dotted(),
                                format_expr(&a.value)
                            ),
                        });
                        continue;
                    };
                    if values.is_empty() {
                        ok = false;
                        crate::check::fields::out_of_range(
                            cx,
                            &a.key.dotted(),
                            "[]",
                            a.value.span,
                            "non-empty",
                            "a swept key needs at least one value",
                        );
                        continue;
                    }
                    if zip {
                        if let Some((_, first)) = zip_axis.keys.first()
                            && first.len() != values.len()
                        {
                            ok = false;
                            cx.push(LangDiagnostic::ZipLength {
                                expected: first.len(),
                                found: values.len(),
                                src: cx.src(a.value.span),
                                span: a.value.span.into(),
                            });
                            continue;
                        }
                        zip_axis.keys.push((a.key.clone(), values.clone()));
                    } else {
                        axes.push(AxisDef {
                            kind: AxisKind::Grid,
                            keys: vec![(a.key.clone(), values.clone())],
                        });
                    }
                }
                if zip && !zip_axis.keys.is_empty() {
                    axes.push(zip_axis);
                }
            }
            Item::Block(b) => {
                ok = false;
                cx.push(LangDiagnostic::UnknownStage {
                    kind: b.kind.node.clone(),
                    src: cx.src(b.kind.span),
                    span: b.kind.span.into(),
                    help: format!("{}; a sweep contains `grid {{ … }}`, `zip {{ … }}` and derived `key = …` lines", suggest(&b.kind.node, &["grid", "zip"])),
                });
            }
            Item::Assign(a) => derived.push(a),
        }
    }
    let total = axes.iter().try_fold(1usize, |acc, a| {
        acc.checked_mul(a.keys.first().map_or(1, |k| k.1.len()))
    });
    if total.is_none_or(|t| t > MAX_POINTS) {
        ok = false;
        crate::check::fields::out_of_range(
            cx,
            "sweep",
            &total.map_or("too many".into(), |t| t.to_string()),
            block.header(),
            &format!("at most {MAX_POINTS} points"),
            "split the study into several files or narrow the values",
        );
    }
    if !ok {
        return None;
    }
    let sweep = Sweep {
        axes: axes
            .iter()
            .map(|a| Axis {
                kind: a.kind,
                keys: a
                    .keys
                    .iter()
                    .map(|(k, vs)| (k.dotted(), vs.iter().map(format_expr).collect()))
                    .collect(),
            })
            .collect(),
        derived: derived
            .iter()
            .map(|a| (a.key.dotted(), format_expr(&a.value)))
            .collect(),
    };
    // Odometer over the axes, last axis fastest (as nested loops would run).
    let mut points = Vec::new();
    let mut index = vec![0usize; axes.len()];
    loop {
        let mut point = Point {
            assigns: Vec::new(),
            shown: Vec::new(),
            derived: Vec::new(),
        };
        for (axis, &i) in axes.iter().zip(&index) {
            for (key, values) in &axis.keys {
                if let Some(v) = values.get(i) {
                    point.assigns.push((key.clone(), v.clone()));
                    point.shown.push((key.dotted(), format_expr(v)));
                }
            }
        }
        for a in &derived {
            point.assigns.push((a.key.clone(), a.value.clone()));
            point.derived.push(a.key.dotted());
        }
        points.push(point);
        let mut carry = true;
        for pos in (0..axes.len()).rev() {
            let len = axes
                .get(pos)
                .and_then(|a| a.keys.first())
                .map_or(1, |k| k.1.len());
            if let Some(slot) = index.get_mut(pos) {
                *slot += 1;
                if *slot < len {
                    carry = false;
                    break;
                }
                *slot = 0;
            }
        }
        if carry {
            break;
        }
    }
    Some((sweep, points))
}

fn nested(cx: &mut Cx, span: Span, within: &str) {
    cx.push(LangDiagnostic::UnknownStage {
        kind: "block".into(),
        src: cx.src(span),
        span: span.into(),
        help: format!("`{within}` blocks contain only `key = [values]` lines"),
    });
}

/// Applies a point's assignments to a copy of `doc`. Errors (unknown stages) are the same at
/// every point, so they are reported once by the caller using the first point.
pub fn apply(cx: &mut Cx, doc: &Doc, point: &Point) -> Option<Doc> {
    let mut doc = doc.clone();
    let mut ok = true;
    for (key, value) in &point.assigns {
        let segments = &key.segments;
        let Some((first, rest)) = segments.split_first() else {
            continue;
        };
        if rest.is_empty() {
            let span = first.span;
            doc.stage_mut(StageKind::SweepVars, None, span).set(KeyDef {
                name: first.node.clone(),
                key_span: span,
                value: value.clone(),
            });
            continue;
        }
        let Some(kind) = StageKind::from_name(&first.node) else {
            ok = false;
            cx.push(LangDiagnostic::UnknownStage {
                kind: first.node.clone(),
                src: cx.src(first.span),
                span: first.span.into(),
                help: format!(
                    "{} (a swept key is `stage.key`; a bare name is a sweep variable)",
                    suggest(&first.node, &StageKind::block_names())
                ),
            });
            continue;
        };
        let (name, rest) = match rest.split_first() {
            Some((n, tail))
                if kind == StageKind::Eval
                    && !tail.is_empty()
                    && doc.stage(kind, Some(n.node.as_str())).is_some() =>
            {
                (Some(n.node.clone()), tail)
            }
            _ => (None, rest),
        };
        let Some((head, tail)) = rest.split_first() else {
            continue;
        };
        let stage = doc.stage_mut(kind, name.as_deref(), first.span);
        if tail.is_empty() {
            stage.set(KeyDef {
                name: head.node.clone(),
                key_span: key.span,
                value: value.clone(),
            });
            continue;
        }
        let label = stage.label();
        let target = stage.keys.iter_mut().find(|k| k.name == head.node);
        let result = match target {
            Some(def) => set_deep(&mut def.value, tail, value.clone()),
            None => Err(head.span),
        };
        if let Err(at) = result {
            ok = false;
            cx.push(LangDiagnostic::UndefinedReference {
                name: key.dotted(),
                src: cx.src(at),
                span: at.into(),
                help: format!("`{label}.{}` must be set (to a call or map) before a sweep can vary one of its entries", head.node),
            });
        }
    }
    ok.then_some(doc)
}

/// A short, readable run name from a point's values: `r16-a32`, `nf4-r8`.
pub fn run_name(parts: &[(String, String)]) -> String {
    let mut name = Vec::new();
    for (key, value) in parts {
        let last = key.rsplit('.').next().unwrap_or(key);
        let prefix = match last {
            "r" => "r",
            "alpha" => "a",
            "dropout" => "do",
            "lr" => "lr",
            "weight_decay" => "wd",
            "batch_size" => "b",
            "micro_batch_size" => "mb",
            "max_iters" => "it",
            "epochs" => "ep",
            "targets" => "t",
            "double_quant" => "dq",
            "block_size" => "bs",
            "seed" => "s",
            "momentum" => "m",
            "type" | "optimizer" | "schedule" | "precision" | "template" | "device" => "",
            other => other,
        };
        if value == "true" || value == "false" {
            name.push(if value == "true" {
                last.to_string()
            } else {
                format!("no-{last}")
            });
            continue;
        }
        // Calls are named by their function (`adamw(lr = 1e-3)` → `adamw`).
        let value = match value.split_once('(') {
            Some((head, _)) => head.to_string(),
            None => value.clone(),
        };
        let clean: String = value
            .chars()
            .filter_map(|c| match c {
                c if c.is_ascii_alphanumeric() || c == '.' || c == '_' => Some(c),
                '-' => Some('-'),
                ',' | ' ' => Some('_'),
                _ => None,
            })
            .collect();
        let clean = clean.trim_matches('_').replace("__", "_");
        name.push(format!("{prefix}{clean}"));
    }
    let name = name.join("-");
    if name.is_empty() {
        "run".to_string()
    } else {
        name
    }
}
