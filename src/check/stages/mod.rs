//! One converter per stage kind: evaluated keys → IR config.

pub mod dataset;
pub mod eval;
pub mod export;
pub mod lora;
pub mod model;
pub mod names;
pub mod quantize;
pub mod train;

use crate::check::cx::Cx;
use crate::check::fields::{as_choice, wrong_type};
use crate::check::value::{Val, Value};
use crate::ir::LoraTarget;

/// Names accepted for LoRA/quantization targets, including the shorthands.
pub const TARGET_NAMES: [&str; 8] = [
    "query",
    "key",
    "value",
    "projection",
    "mlp",
    "head",
    "all_linear",
    "all",
];

/// A list of targets (`[query, value]`), or `all_linear` / `all`.
pub fn targets(cx: &mut Cx, v: &Val) -> Option<Vec<LoraTarget>> {
    let items: Vec<Val> = match &v.kind {
        Value::List(items) => items.clone(),
        Value::Symbol(_) | Value::Str(_) => vec![v.clone()],
        _ => {
            wrong_type(cx, "a list of targets (`[query, value]`)", v, Vec::new());
            return None;
        }
    };
    let mut out: Vec<LoraTarget> = Vec::new();
    let mut ok = true;
    for item in &items {
        match as_choice(cx, item, "target", &TARGET_NAMES).as_deref() {
            Some("all_linear") => out.extend(&LoraTarget::ALL[..5]),
            Some("all") => out.extend(LoraTarget::ALL),
            Some(name) => out.extend(LoraTarget::from_name(name)),
            None => ok = false,
        }
    }
    out.sort();
    out.dedup();
    ok.then_some(out)
}
