//! `lora { … }` → [`ir::Lora`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, resolve_path, wrong_type};
use crate::check::stages::targets;
use crate::check::value::{Val, Value};
use crate::ir::{Lora, LoraInit, LoraTarget};

/// Converts the lora stage.
pub fn lora(cx: &mut Cx, f: &mut Fields) -> Option<Lora> {
    let targets = match f.value("targets") {
        Ok(None) => Some(vec![LoraTarget::Query, LoraTarget::Value]),
        Ok(Some(v)) => targets(cx, &v),
        Err(Invalid) => None,
    };
    let r = f.int(
        cx,
        "r",
        Some(8),
        1,
        65_536,
        "the rank must be at least 1 (the seed used 8 to 256)",
    );
    let alpha = f.num(
        cx,
        "alpha",
        Some(16.0),
        |x| x > 0.0,
        "greater than 0",
        "the update is scaled by alpha/r; the seed found alpha = 2·r best",
    );
    let dropout = f.num(
        cx,
        "dropout",
        Some(0.05),
        |x| (0.0..1.0).contains(&x),
        "in [0, 1)",
        "dropout is a probability below 1 (the seed used 0.05)",
    );
    let rslora = f.bool(cx, "rslora", false);
    let init = match f.value("init") {
        Ok(None) => Some(LoraInit::Default),
        Ok(Some(v)) => init(cx, &v),
        Err(Invalid) => None,
    };
    let targets = targets?;
    if targets.is_empty() {
        crate::check::fields::out_of_range(
            cx,
            "targets",
            "[]",
            f.span("targets").unwrap_or(f.header),
            "non-empty",
            "name at least one target, e.g. `[query, value]`",
        );
        return None;
    }
    Some(Lora {
        targets,
        r: r? as u32,
        alpha: alpha?,
        dropout: dropout?,
        rslora: rslora?,
        init: init?,
    })
}

fn init(cx: &mut Cx, v: &Val) -> Option<LoraInit> {
    match &v.kind {
        Value::Symbol(s) if s == "default" => Some(LoraInit::Default),
        Value::Call { name, args } if name.node == "peft" => match args.as_slice() {
            [
                (
                    None,
                    Val {
                        kind: Value::Str(dir),
                        span,
                    },
                ),
            ] => Some(LoraInit::Peft(resolve_path(cx, Some(*span), dir))),
            _ => {
                wrong_type(cx, "`peft(\"adapter dir\")`", v, Vec::new());
                None
            }
        },
        _ => {
            wrong_type(cx, "`default` or `peft(\"adapter dir\")`", v, Vec::new());
            None
        }
    }
}
