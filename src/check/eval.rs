//! Expression evaluation: references (`lora.r`, sibling keys), arithmetic, `then` chains.
//! Reference cycles are found here and reported with the whole cycle in the label.

use std::collections::HashMap;

use crate::check::cx::Cx;
use crate::check::doc::{Doc, StageKind};
use crate::check::value::{Val, Value};
use crate::diag::{LangDiagnostic, suggest};
use crate::span::Span;
use crate::syntax::ast::{BinOp, Expr, ExprKind, Path};

/// Evaluates the keys of one merged document, memoised.
pub struct Evaluator<'d> {
    doc: &'d Doc,
    memo: HashMap<(usize, String), Option<Val>>,
    stack: Vec<(usize, String)>,
}

impl<'d> Evaluator<'d> {
    /// An evaluator over `doc`.
    pub fn new(doc: &'d Doc) -> Evaluator<'d> {
        Evaluator {
            doc,
            memo: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// The document.
    pub fn doc(&self) -> &'d Doc {
        self.doc
    }

    /// The value of key `key` of stage number `stage` (None if absent or invalid; diagnostics in `cx`).
    pub fn key(&mut self, cx: &mut Cx, stage: usize, key: &str) -> Option<Val> {
        let memo_key = (stage, key.to_string());
        if let Some(v) = self.memo.get(&memo_key) {
            return v.clone();
        }
        let doc = self.doc;
        let def = doc.stages.get(stage)?.key(key)?;
        self.stack.push(memo_key.clone());
        let value = self.expr(cx, &def.value, Some(stage));
        self.stack.pop();
        self.memo.insert(memo_key, value.clone());
        value
    }

    /// Evaluates an expression written in stage `stage` (None: top level).
    pub fn expr(&mut self, cx: &mut Cx, expr: &Expr, stage: Option<usize>) -> Option<Val> {
        let span = expr.span;
        let kind = match &expr.kind {
            ExprKind::Int { value, .. } => Value::Int(*value),
            ExprKind::Float { value, .. } => Value::Float(*value),
            ExprKind::Str(s) => Value::Str(s.clone()),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Size { bytes, .. } => Value::Size(*bytes),
            ExprKind::Duration { seconds, .. } => Value::Duration(*seconds),
            ExprKind::Path(path) => return self.path(cx, path, stage),
            ExprKind::Paren(inner) => {
                return self.expr(cx, inner, stage).map(|v| Val { span, ..v });
            }
            ExprKind::List(items) => {
                let vals: Vec<Option<Val>> =
                    items.iter().map(|e| self.expr(cx, e, stage)).collect();
                Value::List(vals.into_iter().collect::<Option<Vec<_>>>()?)
            }
            ExprKind::Map(entries) => {
                let vals: Vec<Option<(_, Val)>> = entries
                    .iter()
                    .map(|(k, e)| self.expr(cx, e, stage).map(|v| (k.clone(), v)))
                    .collect();
                Value::Map(vals.into_iter().collect::<Option<Vec<_>>>()?)
            }
            ExprKind::Call { name, args } => {
                let vals: Vec<Option<(_, Val)>> = args
                    .iter()
                    .map(|a| self.expr(cx, &a.value, stage).map(|v| (a.name.clone(), v)))
                    .collect();
                Value::Call {
                    name: name.clone(),
                    args: vals.into_iter().collect::<Option<Vec<_>>>()?,
                }
            }
            ExprKind::Neg(inner) => {
                let v = self.expr(cx, inner, stage)?;
                match v.kind {
                    Value::Int(i) => Value::Int(i.checked_neg().unwrap_or(i64::MAX)),
                    Value::Float(f) => Value::Float(-f),
                    other => return self.bad_operand(cx, "-", &other, v.span),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.expr(cx, lhs, stage), self.expr(cx, rhs, stage));
                return binary(cx, *op, l?, r?, span);
            }
        };
        Some(Val { kind, span })
    }

    fn bad_operand(&mut self, cx: &mut Cx, op: &str, value: &Value, span: Span) -> Option<Val> {
        cx.push(LangDiagnostic::InvalidOperation {
            reason: format!("`{op}` cannot apply to {}", value.type_name()),
            src: cx.src(span),
            span: span.into(),
        });
        None
    }

    /// A name: a sibling key, a `stage.key` reference, or a symbol.
    fn path(&mut self, cx: &mut Cx, path: &Path, stage: Option<usize>) -> Option<Val> {
        let doc = self.doc;
        let span = path.span;
        let segments: Vec<&str> = path.segments.iter().map(|s| s.node.as_str()).collect();
        if let [name] = segments.as_slice() {
            if let Some(st) =
                stage.filter(|st| doc.stages.get(*st).is_some_and(|s| s.key(name).is_some()))
            {
                return self
                    .reference(cx, st, name, path)
                    .map(|v| Val { span, ..v });
            }
            return Some(Val {
                kind: Value::Symbol((*name).to_string()),
                span,
            });
        }
        let first = segments.first().copied().unwrap_or_default();
        let kind = if first == "sweep" {
            Some(StageKind::SweepVars)
        } else {
            StageKind::from_name(first)
        };
        let Some(kind) = kind else {
            cx.push(LangDiagnostic::UndefinedReference {
                name: path.dotted(),
                src: cx.src(span),
                span: span.into(),
                help: format!(
                    "references are written `stage.key`; {}",
                    suggest(first, &StageKind::block_names())
                ),
            });
            return None;
        };
        let named = kind == StageKind::Eval
            && segments.len() >= 3
            && doc.stage(kind, segments.get(1).copied()).is_some();
        let (index, rest) = if named {
            (
                doc.stage_index(kind, segments.get(1).copied()),
                &segments[2..],
            )
        } else {
            (doc.stage_index(kind, None), &segments[1..])
        };
        let Some(index) = index else {
            cx.push(LangDiagnostic::UndefinedReference {
                name: path.dotted(),
                src: cx.src(span),
                span: span.into(),
                help: format!("there is no `{first}` stage in this pipeline"),
            });
            return None;
        };
        let key = rest.first().copied().unwrap_or_default();
        let stage_def = doc.stages.get(index)?;
        if stage_def.key(key).is_none() {
            let keys: Vec<&str> = stage_def.keys.iter().map(|k| k.name.as_str()).collect();
            let help = match crate::diag::closest(key, keys.iter().copied()) {
                Some(best) => format!("did you mean `{}.{best}`?", stage_def.label()),
                None => format!(
                    "`{}` does not set `{key}` (defaults cannot be referenced; set it explicitly)",
                    stage_def.label()
                ),
            };
            cx.push(LangDiagnostic::UndefinedReference {
                name: path.dotted(),
                src: cx.src(span),
                span: span.into(),
                help,
            });
            return None;
        }
        let mut value = self.reference(cx, index, key, path)?;
        for segment in rest.iter().skip(1) {
            let found = match &value.kind {
                Value::Call { args, .. } => args
                    .iter()
                    .find(|(n, _)| n.as_ref().is_some_and(|n| n.node == *segment))
                    .map(|(_, v)| v.clone()),
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.node == *segment)
                    .map(|(_, v)| v.clone()),
                _ => None,
            };
            let Some(found) = found else {
                cx.push(LangDiagnostic::UndefinedReference {
                    name: path.dotted(),
                    src: cx.src(span),
                    span: span.into(),
                    help: format!("{} has no named entry `{segment}`", value.kind.type_name()),
                });
                return None;
            };
            value = found;
        }
        Some(Val { span, ..value })
    }

    /// Evaluates a referenced key, reporting a cycle if it is already being evaluated.
    fn reference(&mut self, cx: &mut Cx, stage: usize, key: &str, at: &Path) -> Option<Val> {
        if let Some(pos) = self.stack.iter().position(|(s, k)| *s == stage && k == key) {
            let mut names: Vec<String> = self.stack[pos..]
                .iter()
                .map(|(s, k)| self.qualified(*s, k))
                .collect();
            names.push(self.qualified(stage, key));
            cx.push(LangDiagnostic::Cycle {
                cycle: names.join(" → "),
                src: cx.src(at.span),
                span: at.span.into(),
            });
            return None;
        }
        self.key(cx, stage, key)
    }

    fn qualified(&self, stage: usize, key: &str) -> String {
        match self.doc.stages.get(stage) {
            Some(def) => format!("{}.{key}", def.label()),
            None => key.to_string(),
        }
    }
}

/// `a op b` on evaluated values.
fn binary(cx: &mut Cx, op: BinOp, l: Val, r: Val, span: Span) -> Option<Val> {
    use Value::*;
    let bad = |cx: &mut Cx, reason: String| {
        cx.push(LangDiagnostic::InvalidOperation {
            reason,
            src: cx.src(span),
            span: span.into(),
        });
        None
    };
    for side in [&l, &r] {
        if let (Symbol(name), false) = (&side.kind, op == BinOp::Then) {
            cx.push(LangDiagnostic::UndefinedReference {
                name: name.clone(),
                src: cx.src(side.span),
                span: side.span.into(),
                help: "arithmetic needs numbers; a bare name refers to a key of the same block, others are written `stage.key`".into(),
            });
            return None;
        }
    }
    if op == BinOp::Then {
        let mut items = match l.kind {
            Chain(items) => items,
            _ => vec![l],
        };
        match r.kind {
            Chain(more) => items.extend(more),
            _ => items.push(r),
        }
        return Some(Val {
            kind: Chain(items),
            span,
        });
    }
    let kind = match (op, &l.kind, &r.kind) {
        (BinOp::Add, Int(a), Int(b)) => Int(a.checked_add(*b).or_else(|| overflow(cx, span))?),
        (BinOp::Sub, Int(a), Int(b)) => Int(a.checked_sub(*b).or_else(|| overflow(cx, span))?),
        (BinOp::Mul, Int(a), Int(b)) => Int(a.checked_mul(*b).or_else(|| overflow(cx, span))?),
        (BinOp::Div, _, Int(0)) => return bad(cx, "division by zero".into()),
        (BinOp::Div, _, Float(b)) if *b == 0.0 => return bad(cx, "division by zero".into()),
        (BinOp::Div, Int(a), Int(b)) if a % b == 0 => Int(a / b),
        (BinOp::Div, Int(a), Int(b)) => Float(*a as f64 / *b as f64),
        (_, Int(_) | Float(_), Int(_) | Float(_)) => {
            let (a, b) = (
                l.kind.as_f64().unwrap_or(0.0),
                r.kind.as_f64().unwrap_or(0.0),
            );
            Float(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                _ => a / b,
            })
        }
        (BinOp::Add, Str(a), Str(b)) => Str(format!("{a}{b}")),
        (BinOp::Add, Size(a), Size(b)) => Size(a.saturating_add(*b)),
        (BinOp::Mul, Size(a), Int(b)) | (BinOp::Mul, Int(b), Size(a)) if *b >= 0 => {
            Size(a.saturating_mul(*b as u64))
        }
        (BinOp::Add, Duration(a), Duration(b)) => Duration(a + b),
        (BinOp::Mul, Duration(a), Int(_) | Float(_)) => {
            Duration(a * r.kind.as_f64().unwrap_or(0.0))
        }
        _ => {
            return bad(
                cx,
                format!(
                    "`{}` cannot combine {} and {}",
                    op.symbol(),
                    l.kind.type_name(),
                    r.kind.type_name()
                ),
            );
        }
    };
    Some(Val { kind, span })
}

fn overflow(cx: &mut Cx, span: Span) -> Option<i64> {
    cx.push(LangDiagnostic::InvalidOperation {
        reason: "integer overflow".into(),
        src: cx.src(span),
        span: span.into(),
    });
    None
}
