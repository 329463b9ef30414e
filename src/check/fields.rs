//! Typed access to a stage's keys (or a call's arguments) with defaults, ranges and
//! did-you-mean for unknown keys. Each getter reports its own problems and returns None.

use std::path::PathBuf;

use crate::check::cx::Cx;
use crate::check::value::{Val, Value, format_float};
use crate::check::values::wrong_args;
pub use crate::check::values::{as_choice, as_string, out_of_range, resolve_path, wrong_type};
use crate::diag::{LangDiagnostic, suggest};
use crate::span::Span;

/// A value was written but is invalid; its diagnostic has been recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// One key or argument and its evaluated value.
struct Entry {
    name: String,
    span: Span,
    val: Option<Val>,
    used: bool,
}

/// The keys of a stage or the arguments of a call, read by type.
pub struct Fields {
    /// `lora`, `adamw(…)`.
    pub label: String,
    /// Where "missing key" diagnostics point.
    pub header: Span,
    entries: Vec<Entry>,
    known: Vec<&'static str>,
}

impl Fields {
    /// Fields from evaluated `(name, key span, value)` triples.
    pub fn new(label: String, header: Span, entries: Vec<(String, Span, Option<Val>)>) -> Fields {
        let entries = entries
            .into_iter()
            .map(|(name, span, val)| Entry {
                name,
                span,
                val,
                used: false,
            })
            .collect();
        Fields {
            label,
            header,
            entries,
            known: Vec::new(),
        }
    }

    /// The arguments of a call value; positional arguments take `params` names in order.
    pub fn call(cx: &mut Cx, val: &Val, params: &[&'static str]) -> Option<Fields> {
        let (name, args) = match &val.kind {
            Value::Call { name, args } => (name.clone(), args.clone()),
            Value::Symbol(s) => (crate::span::Spanned::new(s.clone(), val.span), Vec::new()),
            _ => return None,
        };
        let label = format!("`{}(…)`", name.node);
        let mut entries: Vec<(String, Span, Option<Val>)> = Vec::new();
        let mut ok = true;
        let mut seen_named = false;
        for (i, (arg_name, value)) in args.into_iter().enumerate() {
            let (key, span) = match arg_name {
                Some(n) => {
                    seen_named = true;
                    (n.node, n.span)
                }
                None => match params.get(i) {
                    Some(p) if !seen_named => ((*p).to_string(), value.span),
                    Some(_) => {
                        wrong_args(
                            cx,
                            &name.node,
                            "positional argument after a named one",
                            value.span,
                            params,
                        );
                        ok = false;
                        continue;
                    }
                    None => {
                        wrong_args(
                            cx,
                            &name.node,
                            &match params.len() {
                                0 => "takes no positional arguments".to_string(),
                                1 => "takes at most 1 positional argument".to_string(),
                                n => format!("takes at most {n} positional arguments"),
                            },
                            value.span,
                            params,
                        );
                        ok = false;
                        continue;
                    }
                },
            };
            if entries.iter().any(|(k, _, _)| *k == key) {
                wrong_args(
                    cx,
                    &name.node,
                    &format!("`{key}` given twice"),
                    span,
                    params,
                );
                ok = false;
                continue;
            }
            entries.push((key, span, Some(value)));
        }
        ok.then(|| Fields::new(label, val.span, entries))
    }

    fn take(&mut self, key: &'static str) -> Option<(Span, Option<Val>)> {
        self.known.push(key);
        let entry = self.entries.iter_mut().find(|e| e.name == key)?;
        entry.used = true;
        Some((entry.span, entry.val.clone()))
    }

    /// Declares `key` as valid without reading it (for did-you-mean and unknown-key checks).
    pub fn known_key(&mut self, key: &'static str) {
        self.known.push(key);
    }

    /// Whether `key` was written.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.name == key)
    }

    /// The span of `key`'s value (or of the key), if written.
    pub fn span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|e| e.name == key)
            .map(|e| e.val.as_ref().map_or(e.span, |v| v.span))
    }

    /// The raw value of `key`; `Err(Invalid)` when it was written but is invalid, `Ok(None)` when absent.
    pub fn value(&mut self, key: &'static str) -> Result<Option<Val>, Invalid> {
        match self.take(key) {
            None => Ok(None),
            Some((_, Some(v))) => Ok(Some(v)),
            Some((_, None)) => Err(Invalid),
        }
    }

    /// A required raw value.
    pub fn required(&mut self, cx: &mut Cx, key: &'static str, what: &str) -> Option<Val> {
        match self.value(key) {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                self.missing(cx, key, what);
                None
            }
            Err(Invalid) => None,
        }
    }

    /// Reports `key` as missing.
    pub fn missing(&self, cx: &mut Cx, key: &str, what: &str) {
        cx.push(LangDiagnostic::MissingKey {
            key: key.to_string(),
            stage: self.label.trim_matches('`').to_string(),
            src: cx.src(self.header),
            span: self.header.into(),
            help: format!("add `{key} = …` ({what})"),
        });
    }

    /// An integer in `[min, max]`; `default` when absent (None: required).
    pub fn int(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        default: Option<u64>,
        min: u64,
        max: u64,
        help: &str,
    ) -> Option<u64> {
        let v = match self.value(key) {
            Ok(Some(v)) => v,
            Ok(None) => {
                if default.is_none() {
                    self.missing(cx, key, "an integer");
                }
                return default;
            }
            Err(Invalid) => return None,
        };
        let Value::Int(i) = v.kind else {
            wrong_type(cx, "an integer", &v, self.sibling_keys());
            return None;
        };
        if i < 0 || (i as u64) < min || (i as u64) > max {
            let range = if max == u64::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            out_of_range(cx, key, &i.to_string(), v.span, &range, help);
            return None;
        }
        Some(i as u64)
    }

    /// An optional integer in `[min, max]`.
    pub fn opt_int(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        min: u64,
        max: u64,
        help: &str,
    ) -> Result<Option<u64>, Invalid> {
        if !self.has(key) {
            self.known.push(key);
            return Ok(None);
        }
        self.int(cx, key, None, min, max, help)
            .map(Some)
            .ok_or(Invalid)
    }

    /// A number accepted by `ok` (whose condition is `range`, e.g. "greater than 0").
    pub fn num(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        default: Option<f64>,
        ok: impl Fn(f64) -> bool,
        range: &str,
        help: &str,
    ) -> Option<f64> {
        let v = match self.value(key) {
            Ok(Some(v)) => v,
            Ok(None) => {
                if default.is_none() {
                    self.missing(cx, key, "a number");
                }
                return default;
            }
            Err(Invalid) => return None,
        };
        let Some(x) = v.kind.as_f64() else {
            wrong_type(cx, "a number", &v, self.sibling_keys());
            return None;
        };
        if !ok(x) {
            out_of_range(cx, key, &format_float(x), v.span, range, help);
            return None;
        }
        Some(x)
    }

    /// An optional number.
    pub fn opt_num(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        ok: impl Fn(f64) -> bool,
        range: &str,
        help: &str,
    ) -> Result<Option<f64>, Invalid> {
        if !self.has(key) {
            self.known.push(key);
            return Ok(None);
        }
        self.num(cx, key, None, ok, range, help)
            .map(Some)
            .ok_or(Invalid)
    }

    /// A boolean.
    pub fn bool(&mut self, cx: &mut Cx, key: &'static str, default: bool) -> Option<bool> {
        self.bool_at(cx, key, default).map(|(b, _)| b)
    }

    /// A boolean and the span of its value when set (for diagnostics about the value itself).
    pub fn bool_at(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        default: bool,
    ) -> Option<(bool, Option<Span>)> {
        match self.value(key) {
            Ok(None) => Some((default, None)),
            Ok(Some(Val {
                kind: Value::Bool(b),
                span,
            })) => Some((b, Some(span))),
            Ok(Some(v)) => {
                wrong_type(cx, "`true` or `false`", &v, self.sibling_keys());
                None
            }
            Err(Invalid) => None,
        }
    }

    /// A string; `default` when absent (None: required).
    pub fn string(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        default: Option<&str>,
    ) -> Option<String> {
        match self.value(key) {
            Ok(None) => {
                if default.is_none() {
                    self.missing(cx, key, "a string");
                }
                default.map(str::to_string)
            }
            Ok(Some(v)) => as_string(cx, &v),
            Err(Invalid) => None,
        }
    }

    /// An optional string.
    pub fn opt_string(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
    ) -> Result<Option<String>, Invalid> {
        match self.value(key) {
            Ok(None) => Ok(None),
            Ok(Some(v)) => as_string(cx, &v).map(Some).ok_or(Invalid),
            Err(Invalid) => Err(Invalid),
        }
    }

    /// A path, resolved against the directory of the file it was written in.
    pub fn path(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        default: Option<&str>,
    ) -> Option<PathBuf> {
        let span = self.span(key);
        let s = self.string(cx, key, default)?;
        Some(resolve_path(cx, span, &s))
    }

    /// One of `choices` (a bare name or a string).
    pub fn choice(
        &mut self,
        cx: &mut Cx,
        key: &'static str,
        default: Option<&'static str>,
        what: &str,
        choices: &[&str],
    ) -> Option<String> {
        match self.value(key) {
            Ok(None) => {
                if default.is_none() {
                    self.missing(cx, key, &format!("one of {}", choices.join(", ")));
                }
                default.map(str::to_string)
            }
            Ok(Some(v)) => as_choice(cx, &v, what, choices),
            Err(Invalid) => None,
        }
    }

    /// A duration in seconds (or a plain number of seconds).
    pub fn opt_duration(&mut self, cx: &mut Cx, key: &'static str) -> Result<Option<f64>, Invalid> {
        match self.value(key) {
            Ok(None) => Ok(None),
            Ok(Some(Val {
                kind: Value::Duration(s),
                span,
            })) => {
                if s > 0.0 {
                    Ok(Some(s))
                } else {
                    out_of_range(
                        cx,
                        key,
                        &format!("{}s", format_float(s)),
                        span,
                        "greater than 0",
                        "a time limit must be positive",
                    );
                    Err(Invalid)
                }
            }
            Ok(Some(v)) => {
                wrong_type(cx, "a duration (`90min`, `2h`)", &v, self.sibling_keys());
                Err(Invalid)
            }
            Err(Invalid) => Err(Invalid),
        }
    }

    /// A size in bytes.
    pub fn opt_size(&mut self, cx: &mut Cx, key: &'static str) -> Result<Option<u64>, Invalid> {
        match self.value(key) {
            Ok(None) => Ok(None),
            Ok(Some(Val {
                kind: Value::Size(b),
                ..
            })) => Ok(Some(b)),
            Ok(Some(v)) => {
                wrong_type(cx, "a size (`24GiB`)", &v, self.sibling_keys());
                Err(Invalid)
            }
            Err(Invalid) => Err(Invalid),
        }
    }

    fn sibling_keys(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// Reports every key no getter asked for.
    pub fn finish(self, cx: &mut Cx) {
        for entry in self
            .entries
            .iter()
            .filter(|e| !e.used && !self.known.iter().any(|k| *k == e.name))
        {
            cx.push(LangDiagnostic::UnknownKey {
                key: entry.name.clone(),
                within: self.label.clone(),
                src: cx.src(entry.span),
                span: entry.span.into(),
                help: suggest(&entry.name, &self.known),
            });
        }
    }
}
