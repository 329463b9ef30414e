//! `train { … }` → [`ir::Train`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, as_choice, wrong_type};
use crate::check::stages::model::precision;
use crate::check::value::{Val, Value};
use crate::diag::LangDiagnostic;
use crate::ir::{Decay, Length, Optimizer, Precision, Schedule, Train};

/// Converts the train stage; `model_precision` is the default compute precision.
pub fn train(cx: &mut Cx, f: &mut Fields, model_precision: Precision) -> Option<Train> {
    let optimizer = f.required(
        cx,
        "optimizer",
        "`adamw(lr = 3e-4)` or `sgd(lr = 0.1, momentum = 0.9)`",
    );
    let optimizer = optimizer.and_then(|v| self::optimizer(cx, &v));
    let schedule = match f.value("schedule") {
        Ok(None) => Some(Schedule {
            warmup_steps: 0,
            decay: Decay::Constant,
        }),
        Ok(Some(v)) => schedule(cx, &v),
        Err(Invalid) => None,
    };
    let batch_size = f.int(
        cx,
        "batch_size",
        None,
        1,
        1 << 20,
        "at least one example per optimizer step",
    );
    let micro = f.int(
        cx,
        "micro_batch_size",
        batch_size.or(Some(1)),
        1,
        1 << 20,
        "at least one example per forward pass",
    );
    let length = match (f.has("max_iters"), f.has("epochs")) {
        (false, false) => {
            f.missing(cx, "max_iters", "micro-batch iterations; or set `epochs`");
            f.known_key("max_iters");
            f.known_key("epochs");
            None
        }
        (true, _) => {
            // Both set: `max_iters` wins here and the conflict is reported by the cross-field rules.
            f.num(
                cx,
                "epochs",
                Some(1.0),
                |x| x > 0.0,
                "greater than 0",
                "train for a positive number of epochs",
            );
            f.int(
                cx,
                "max_iters",
                None,
                1,
                u64::MAX,
                "train for at least one iteration",
            )
            .map(Length::Iters)
        }
        (false, true) => {
            f.known_key("max_iters");
            f.num(
                cx,
                "epochs",
                None,
                |x| x > 0.0 && x <= 1000.0,
                "in (0, 1000]",
                "train for a positive number of epochs",
            )
            .map(Length::Epochs)
        }
    };
    let grad_clip = f.opt_num(
        cx,
        "grad_clip",
        |x| x > 0.0,
        "greater than 0",
        "the gradient norm is clipped to this value",
    );
    let precision = f
        .choice(
            cx,
            "precision",
            Some(model_precision.name()),
            "precision",
            &["f32", "bf16", "f16"],
        )
        .map(|p| self::precision(&p));
    let seed = f.int(
        cx,
        "seed",
        Some(42),
        0,
        u64::MAX,
        "any non-negative integer",
    );
    let eval_interval = f.opt_int(
        cx,
        "eval_interval",
        1,
        u64::MAX,
        "validate every N ≥ 1 optimizer steps",
    );
    let eval_iters = f.int(
        cx,
        "eval_iters",
        Some(100),
        1,
        u64::from(u32::MAX),
        "at least one validation batch",
    );
    let checkpoint_interval = f.opt_int(
        cx,
        "checkpoint_interval",
        1,
        u64::MAX,
        "save every N ≥ 1 optimizer steps",
    );
    let log_interval = f.int(
        cx,
        "log_interval",
        Some(1),
        1,
        u64::MAX,
        "log every N ≥ 1 optimizer steps",
    );
    let activation_checkpointing = match f.bool_at(cx, "activation_checkpointing", false) {
        // Accepting `true` and training without it would mislead about memory: refused
        // until the GPU training path recomputes activations.
        Some((true, Some(span))) => {
            cx.push(LangDiagnostic::NotImplemented {
                what: "`activation_checkpointing = true`".into(),
                src: cx.src(span),
                span: span.into(),
                help: "lpipe does not recompute activations yet (it comes with the GPU \
                       training path, docs/gpu.md); remove the key, or lower \
                       `micro_batch_size` to save memory"
                    .into(),
            });
            None
        }
        other => other.map(|(b, _)| b),
    };
    let max_time = f.opt_duration(cx, "max_time");
    let tensorboard = f.bool(cx, "tensorboard", true);
    Some(Train {
        optimizer: optimizer?,
        schedule: schedule?,
        batch_size: batch_size? as u32,
        micro_batch_size: micro? as u32,
        length: length?,
        grad_clip: grad_clip.ok()?,
        precision: precision?,
        seed: seed?,
        eval_interval: eval_interval.ok()?,
        eval_iters: eval_iters? as u32,
        checkpoint_interval: checkpoint_interval.ok()?,
        log_interval: log_interval?,
        activation_checkpointing: activation_checkpointing?,
        max_time: max_time.ok()?,
        tensorboard: tensorboard?,
    })
}

fn optimizer(cx: &mut Cx, v: &Val) -> Option<Optimizer> {
    let name = match &v.kind {
        Value::Call { name, .. } => name.node.clone(),
        Value::Symbol(s) => s.clone(),
        _ => {
            wrong_type(cx, "an optimizer (`adamw(lr = 3e-4)`)", v, Vec::new());
            return None;
        }
    };
    let name = as_choice(
        cx,
        &Val {
            kind: Value::Symbol(name),
            span: v.span,
        },
        "optimizer",
        &["adamw", "sgd"],
    )?;
    let mut a = Fields::call(cx, v, &["lr"])?;
    let lr = a.num(
        cx,
        "lr",
        None,
        |x| x > 0.0 && x <= 10.0,
        "in (0, 10]",
        "the learning rate must be positive (the seed used 3e-4 with AdamW)",
    );
    let optimizer = if name == "adamw" {
        let weight_decay = a.num(
            cx,
            "weight_decay",
            Some(0.01),
            |x| (0.0..1.0).contains(&x),
            "in [0, 1)",
            "decoupled weight decay (the seed used 0.01)",
        );
        let betas = match a.value("betas") {
            Ok(None) => Some((0.9, 0.999)),
            Ok(Some(v)) => betas(cx, &v),
            Err(Invalid) => None,
        };
        let eps = a.num(
            cx,
            "eps",
            Some(1e-8),
            |x| x > 0.0 && x < 1.0,
            "in (0, 1)",
            "a small positive constant",
        );
        a.finish(cx);
        Optimizer::AdamW {
            lr: lr?,
            weight_decay: weight_decay?,
            betas: betas?,
            eps: eps?,
        }
    } else {
        let momentum = a.num(
            cx,
            "momentum",
            Some(0.0),
            |x| (0.0..1.0).contains(&x),
            "in [0, 1)",
            "momentum is a fraction below 1 (0.9 is common)",
        );
        let weight_decay = a.num(
            cx,
            "weight_decay",
            Some(0.0),
            |x| (0.0..1.0).contains(&x),
            "in [0, 1)",
            "L2 weight decay",
        );
        let nesterov = a.bool(cx, "nesterov", false);
        a.finish(cx);
        Optimizer::Sgd {
            lr: lr?,
            momentum: momentum?,
            weight_decay: weight_decay?,
            nesterov: nesterov?,
        }
    };
    Some(optimizer)
}

fn betas(cx: &mut Cx, v: &Val) -> Option<(f64, f64)> {
    let pair = match &v.kind {
        Value::List(items) => match items.as_slice() {
            [a, b] => a.kind.as_f64().zip(b.kind.as_f64()),
            _ => None,
        },
        _ => None,
    };
    match pair {
        Some((a, b)) if (0.0..1.0).contains(&a) && (0.0..1.0).contains(&b) => Some((a, b)),
        Some(_) => {
            crate::check::fields::out_of_range(
                cx,
                "betas",
                &v.kind.display(),
                v.span,
                "two numbers in [0, 1)",
                "AdamW's betas are decay rates, e.g. `[0.9, 0.999]`",
            );
            None
        }
        None => {
            wrong_type(cx, "two numbers `[0.9, 0.999]`", v, Vec::new());
            None
        }
    }
}

/// `warmup(100) then cosine`, `cosine(min_lr = 1e-6)`, `constant`, …
fn schedule(cx: &mut Cx, v: &Val) -> Option<Schedule> {
    let phases: Vec<Val> = match &v.kind {
        Value::Chain(items) => items.clone(),
        _ => vec![v.clone()],
    };
    let mut warmup_steps = 0;
    let mut decay = None;
    for (i, phase) in phases.iter().enumerate() {
        let name = match &phase.kind {
            Value::Symbol(s) => s.clone(),
            Value::Call { name, .. } => name.node.clone(),
            _ => {
                wrong_type(
                    cx,
                    "a schedule phase (`warmup(100)`, `cosine`)",
                    phase,
                    Vec::new(),
                );
                return None;
            }
        };
        let allowed: &[&str] = if i == 0 && phases.len() > 1 {
            &["warmup"]
        } else if i == 0 {
            &["warmup", "constant", "linear", "cosine"]
        } else {
            &["constant", "linear", "cosine"]
        };
        let name = as_choice(
            cx,
            &Val {
                kind: Value::Symbol(name),
                span: phase.span,
            },
            "schedule phase",
            allowed,
        )?;
        if phases.len() > 2 {
            wrong_type(cx, "at most `warmup(n) then <decay>`", v, Vec::new());
            return None;
        }
        match name.as_str() {
            "warmup" => {
                let mut a = Fields::call(cx, phase, &["steps"])?;
                warmup_steps = a.int(
                    cx,
                    "steps",
                    None,
                    0,
                    u64::MAX,
                    "warmup steps are optimizer steps",
                )?;
                a.finish(cx);
            }
            "constant" => {
                let a = Fields::call(cx, phase, &[])?;
                a.finish(cx);
                decay = Some(Decay::Constant);
            }
            shape => {
                let mut a = Fields::call(cx, phase, &["min_lr"])?;
                let min_lr = a.num(
                    cx,
                    "min_lr",
                    Some(0.0),
                    |x| x >= 0.0,
                    "at least 0",
                    "the final learning rate",
                )?;
                a.finish(cx);
                decay = Some(if shape == "linear" {
                    Decay::Linear { min_lr }
                } else {
                    Decay::Cosine { min_lr }
                });
            }
        }
    }
    Some(Schedule {
        warmup_steps,
        decay: decay.unwrap_or(Decay::Constant),
    })
}
