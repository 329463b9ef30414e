//! Evaluated values: what an expression means once references and arithmetic are resolved.

use crate::span::Span;
use crate::syntax::ast::Ident;

/// A value with the span of the expression that produced it.
#[derive(Clone, Debug)]
pub struct Val {
    /// The value.
    pub kind: Value,
    /// Where it was written (for a reference: where the reference was written).
    pub span: Span,
}

/// The kinds of value.
#[derive(Clone, Debug)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// Bytes.
    Size(u64),
    /// Seconds.
    Duration(f64),
    /// A bare name that is not a key (`cosine`, `query`).
    Symbol(String),
    /// A list.
    List(Vec<Val>),
    /// A map.
    Map(Vec<(Ident, Val)>),
    /// A function-like value.
    Call {
        /// The function.
        name: Ident,
        /// Positional and named arguments.
        args: Vec<(Option<Ident>, Val)>,
    },
    /// Phases joined by `then`.
    Chain(Vec<Val>),
}

impl Value {
    /// "an integer", "a list", … for type errors.
    pub fn type_name(&self) -> String {
        match self {
            Value::Int(_) => "an integer".into(),
            Value::Float(_) => "a number".into(),
            Value::Bool(_) => "a boolean".into(),
            Value::Str(_) => "a string".into(),
            Value::Size(_) => "a size".into(),
            Value::Duration(_) => "a duration".into(),
            Value::Symbol(s) => format!("the name `{s}`"),
            Value::List(_) => "a list".into(),
            Value::Map(_) => "a map".into(),
            Value::Call { name, .. } => format!("`{}(…)`", name.node),
            Value::Chain(_) => "a `then` chain".into(),
        }
    }

    /// A short rendering for messages and run names.
    pub fn display(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Bool(b) => b.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::Size(b) => format!("{b}B"),
            Value::Duration(s) => format!("{}s", format_float(*s)),
            Value::Symbol(s) => s.clone(),
            Value::List(items) => {
                format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|v| v.kind.display())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Value::Map(entries) => format!(
                "{{ {} }}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{} = {}", k.node, v.kind.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Call { name, args } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|(n, v)| match n {
                        Some(n) => format!("{} = {}", n.node, v.kind.display()),
                        None => v.kind.display(),
                    })
                    .collect();
                format!("{}({})", name.node, args.join(", "))
            }
            Value::Chain(items) => items
                .iter()
                .map(|v| v.kind.display())
                .collect::<Vec<_>>()
                .join(" then "),
        }
    }

    /// The value as a float, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

pub use crate::syntax::format::format_float;
