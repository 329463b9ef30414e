//! `dataset { … }` → [`ir::Dataset`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, as_choice, resolve_path, wrong_type};
use crate::check::value::{Val, Value};
use crate::diag::LangDiagnostic;
use crate::ir::{ArithOp, DataSource, Dataset, FieldMap, Template};

/// Converts the dataset stage.
pub fn dataset(cx: &mut Cx, f: &mut Fields) -> Option<Dataset> {
    let source = f.required(
        cx,
        "source",
        "`json(\"path\")`, `jsonl(\"path\")`, `tokens(\"path\")` or `arithmetic(…)`",
    );
    let source_span = source.as_ref().map(|v| v.span);
    let source = source.and_then(|v| data_source(cx, &v));
    let template = match f.value("template") {
        Ok(None) => Some(Template::Alpaca),
        // Pre-tokenized examples have no text for a template to shape.
        Ok(Some(v)) if matches!(source, Some(DataSource::Tokens { .. })) => {
            cx.push(LangDiagnostic::Conflict {
                first: "source = tokens(…)".into(),
                second: "template".into(),
                src: cx.src(v.span),
                span: v.span.into(),
                first_span: source_span.and_then(|s| cx.same_file(v.span, Some(s))),
                help: "pre-tokenized examples are used as they are; remove `template`".into(),
            });
            None
        }
        Ok(Some(v)) => template(cx, &v),
        Err(Invalid) => None,
    };
    let max_seq_len = f.int(
        cx,
        "max_seq_len",
        Some(512),
        8,
        1 << 20,
        "sequences are truncated to this many tokens",
    );
    let mask_prompt = f.bool(cx, "mask_prompt", true);
    let val_split = f.num(
        cx,
        "val_split",
        Some(0.05),
        |x| (0.0..1.0).contains(&x),
        "in [0, 1)",
        "the fraction of records held out for validation",
    );
    let seed = f.int(
        cx,
        "seed",
        Some(42),
        0,
        u64::MAX,
        "any non-negative integer",
    );
    let limit = f.opt_int(cx, "limit", 1, u64::MAX, "use at least one record");
    Some(Dataset {
        source: source?,
        template: template?,
        max_seq_len: max_seq_len? as u32,
        mask_prompt: mask_prompt?,
        val_split: val_split?,
        seed: seed?,
        limit: limit.ok()?,
    })
}

fn data_source(cx: &mut Cx, v: &Val) -> Option<DataSource> {
    let name = match &v.kind {
        Value::Str(path) => {
            let lines = path.ends_with(".jsonl");
            return Some(DataSource::Json {
                path: resolve_path(cx, Some(v.span), path),
                lines,
                fields: FieldMap::default(),
            });
        }
        Value::Call { name, .. } => name.node.clone(),
        Value::Symbol(name) => name.clone(),
        _ => {
            wrong_type(
                cx,
                "a data source (`json(\"path\")`, `arithmetic(…)`)",
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
        "data source",
        &["json", "jsonl", "tokens", "arithmetic"],
    )?;
    if name == "arithmetic" {
        let mut a = Fields::call(cx, v, &["digits", "ops", "count", "seed"])?;
        let digits = a.int(cx, "digits", Some(2), 1, 9, "operands have 1 to 9 digits");
        let ops = match a.value("ops") {
            Ok(None) => Some(vec![ArithOp::Plus, ArithOp::Minus]),
            Ok(Some(v)) => arith_ops(cx, &v),
            Err(Invalid) => None,
        };
        let count = a.int(
            cx,
            "count",
            Some(2000),
            1,
            10_000_000,
            "generate at least one record",
        );
        let seed = a.int(cx, "seed", Some(1), 0, u64::MAX, "any non-negative integer");
        a.finish(cx);
        return Some(DataSource::Arithmetic {
            digits: digits? as u32,
            ops: ops?,
            count: count?,
            seed: seed?,
        });
    }
    if name == "tokens" {
        let mut a = Fields::call(cx, v, &["path"])?;
        let path_span = a.span("path");
        let path = a.string(cx, "path", None);
        a.finish(cx);
        return Some(DataSource::Tokens {
            path: resolve_path(cx, path_span, &path?),
        });
    }
    let mut a = Fields::call(cx, v, &["path"])?;
    let path_span = a.span("path");
    let path = a.string(cx, "path", None);
    let defaults = FieldMap::default();
    // Field names come as arguments (`output = "answer"`) or as one map
    // (`fields = { output = "answer" }`); both read the same way.
    let mut names = match a.value("fields") {
        Ok(None) => Some(a),
        Ok(Some(map)) => {
            a.finish(cx);
            match &map.kind {
                Value::Map(entries) => Some(Fields::new(
                    "`fields`".into(),
                    map.span,
                    entries
                        .iter()
                        .map(|(k, v)| (k.node.clone(), k.span, Some(v.clone())))
                        .collect(),
                )),
                _ => {
                    wrong_type(
                        cx,
                        "a map `{ instruction = \"…\", output = \"…\" }`",
                        &map,
                        Vec::new(),
                    );
                    None
                }
            }
        }
        Err(Invalid) => None,
    }?;
    let instruction = names.string(cx, "instruction", Some(defaults.instruction.as_str()));
    let input = names.string(cx, "input", Some(defaults.input.as_str()));
    let output = names.string(cx, "output", Some(defaults.output.as_str()));
    names.finish(cx);
    Some(DataSource::Json {
        path: resolve_path(cx, path_span, &path?),
        lines: name == "jsonl",
        fields: FieldMap {
            instruction: instruction?,
            input: input?,
            output: output?,
        },
    })
}

fn arith_ops(cx: &mut Cx, v: &Val) -> Option<Vec<ArithOp>> {
    let Value::List(items) = &v.kind else {
        wrong_type(cx, "a list of operations (`[plus, minus]`)", v, Vec::new());
        return None;
    };
    let ops: Vec<Option<ArithOp>> = items
        .iter()
        .map(
            |item| match as_choice(cx, item, "operation", &["plus", "minus", "times"])?.as_str() {
                "plus" => Some(ArithOp::Plus),
                "minus" => Some(ArithOp::Minus),
                _ => Some(ArithOp::Times),
            },
        )
        .collect();
    let ops: Vec<ArithOp> = ops.into_iter().collect::<Option<_>>()?;
    if ops.is_empty() {
        crate::check::fields::out_of_range(
            cx,
            "ops",
            "[]",
            v.span,
            "non-empty",
            "name at least one operation",
        );
        return None;
    }
    Some(ops)
}

fn template(cx: &mut Cx, v: &Val) -> Option<Template> {
    let (text, no_input) = match &v.kind {
        Value::Symbol(_) => {
            return match as_choice(cx, v, "template", &["alpaca", "chatml"])?.as_str() {
                "alpaca" => Some(Template::Alpaca),
                _ => Some(Template::Chatml { system: None }),
            };
        }
        Value::Str(s) => (s.clone(), None),
        Value::Call { name, .. } if name.node == "chatml" => {
            let mut a = Fields::call(cx, v, &crate::ir::dataset::CHATML_PARAMS)?;
            let system = a.opt_string(cx, "system");
            a.finish(cx);
            return Some(Template::Chatml {
                system: system.ok()?,
            });
        }
        Value::Call { name, .. } if name.node == "custom" => {
            let mut a = Fields::call(cx, v, &crate::ir::dataset::CUSTOM_PARAMS)?;
            let text = a.string(cx, "text", None);
            let no_input = a.opt_string(cx, "no_input");
            a.finish(cx);
            (text?, no_input.ok()?)
        }
        _ => {
            wrong_type(
                cx,
                "`alpaca`, `chatml`, `chatml(system = \"…\")` or a template string",
                v,
                Vec::new(),
            );
            return None;
        }
    };
    // The reader `lpipe run` and `lpipe tokenize` fill templates with, so all three agree.
    match crate::data::template::CustomTemplate::new(&text, no_input.as_deref()) {
        Ok(_) => Some(Template::Custom {
            prompt: text,
            no_input,
        }),
        Err(e) => {
            let reason = match e {
                crate::data::error::DataError::Template { message, .. } => message,
                other => other.to_string(),
            };
            cx.push(LangDiagnostic::InvalidTemplate {
                reason,
                src: cx.src(v.span),
                span: v.span.into(),
            });
            None
        }
    }
}
