//! Reading single values: strings, choices and paths, and the type and range diagnostics
//! every converter shares.

use std::path::PathBuf;

use crate::check::cx::Cx;
use crate::check::paths::normalize;
use crate::check::value::{Val, Value};
use crate::diag::{LangDiagnostic, suggest};
use crate::span::Span;

/// Resolves a relative path against the directory of the file `span` points into.
pub fn resolve_path(cx: &Cx, span: Option<Span>, s: &str) -> PathBuf {
    let dir = span
        .map(|sp| cx.sources.get(sp.file).dir())
        .unwrap_or_default();
    normalize(&dir.join(s))
}

/// A string value.
pub fn as_string(cx: &mut Cx, v: &Val) -> Option<String> {
    match &v.kind {
        Value::Str(s) => Some(s.clone()),
        _ => {
            wrong_type(cx, "a string", v, Vec::new());
            None
        }
    }
}

/// A bare name (or string) among `choices`.
pub fn as_choice(cx: &mut Cx, v: &Val, what: &str, choices: &[&str]) -> Option<String> {
    let name = match &v.kind {
        Value::Symbol(s) | Value::Str(s) => s.clone(),
        _ => {
            let shown: Vec<String> = choices.iter().take(12).map(|c| format!("`{c}`")).collect();
            cx.push(LangDiagnostic::WrongType {
                expected: format!("a {what} name"),
                found: v.kind.type_name(),
                src: cx.src(v.span),
                span: v.span.into(),
                help: format!(
                    "expected one of {}{}",
                    shown.join(", "),
                    if choices.len() > 12 { ", …" } else { "" }
                ),
            });
            return None;
        }
    };
    if choices.contains(&name.as_str()) {
        return Some(name);
    }
    cx.push(LangDiagnostic::UnknownValue {
        what: what.to_string(),
        value: name.clone(),
        src: cx.src(v.span),
        span: v.span.into(),
        help: suggest(&name, choices),
    });
    None
}

/// Reports a value of the wrong type. A bare name where a value is expected is most likely a
/// misspelt reference, so it is reported as one (with the block's keys as suggestions).
pub fn wrong_type(cx: &mut Cx, expected: &str, v: &Val, siblings: Vec<String>) {
    if let Value::Symbol(name) = &v.kind {
        let names: Vec<&str> = siblings.iter().map(String::as_str).collect();
        let help = match crate::diag::closest(name, names.iter().copied()) {
            Some(best) => format!("did you mean `{best}`? (expected {expected})"),
            None => format!(
                "expected {expected}; a bare name refers to a key of the same block, others are written `stage.key`"
            ),
        };
        cx.push(LangDiagnostic::UndefinedReference {
            name: name.clone(),
            src: cx.src(v.span),
            span: v.span.into(),
            help,
        });
        return;
    }
    let help = match (&v.kind, expected) {
        (Value::Float(_), "an integer") => "write a whole number, e.g. `8`".to_string(),
        (Value::Str(s), _) if s.parse::<f64>().is_ok() => format!("remove the quotes: `{s}`"),
        _ => format!("found {}", v.kind.display()),
    };
    cx.push(LangDiagnostic::WrongType {
        expected: expected.to_string(),
        found: v.kind.type_name(),
        src: cx.src(v.span),
        span: v.span.into(),
        help,
    });
}

/// Reports a value outside its range.
pub fn out_of_range(cx: &mut Cx, key: &str, value: &str, span: Span, range: &str, help: &str) {
    cx.push(LangDiagnostic::OutOfRange {
        key: key.to_string(),
        value: value.to_string(),
        src: cx.src(span),
        span: span.into(),
        range: range.to_string(),
        help: help.to_string(),
    });
}

pub(crate) fn wrong_args(cx: &mut Cx, call: &str, reason: &str, span: Span, params: &[&str]) {
    cx.push(LangDiagnostic::WrongArguments {
        call: call.to_string(),
        reason: reason.to_string(),
        src: cx.src(span),
        span: span.into(),
        help: if params.is_empty() {
            format!("`{call}` takes named arguments only")
        } else {
            format!(
                "`{call}` takes ({}), positional in that order or by name",
                params.join(", ")
            )
        },
    });
}
