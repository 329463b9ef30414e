//! `eval [name] { … }` → [`ir::Eval`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, as_choice, wrong_type};
use crate::check::stages::names::{BLIMP_PARADIGMS, MMLU_SUBJECTS, TASKS};
use crate::check::value::{Val, Value};
use crate::ir::{ArithOp, Eval, EvalOn, Task};

/// Converts an eval stage; `has_train` decides the default of `on`.
pub fn eval(cx: &mut Cx, f: &mut Fields, name: &str, has_train: bool) -> Option<Eval> {
    let tasks = f.required(
        cx,
        "tasks",
        "a list such as `[truthfulqa_mc2, mmlu(subjects = [global_facts])]`",
    );
    let tasks = tasks.and_then(|v| self::tasks(cx, &v));
    let on = match f.value("on") {
        Ok(None) => Some(vec![if has_train {
            EvalOn::Adapter
        } else {
            EvalOn::Base
        }]),
        Ok(Some(v)) => on(cx, &v),
        Err(Invalid) => None,
    };
    let limit = f.opt_int(cx, "limit", 1, u64::MAX, "score at least one item per task");
    let seed = f.int(
        cx,
        "seed",
        Some(1234),
        0,
        u64::MAX,
        "any non-negative integer",
    );
    let batch_size = f.int(
        cx,
        "batch_size",
        Some(8),
        1,
        4096,
        "at least one request per batch",
    );
    let data_dir = if f.has("data_dir") {
        f.path(cx, "data_dir", None).map(Some)
    } else {
        Some(None)
    };
    f.known_key("data_dir");
    Some(Eval {
        name: name.to_string(),
        tasks: tasks?,
        on: on?,
        limit: limit.ok()?,
        seed: seed?,
        batch_size: batch_size? as u32,
        data_dir: data_dir?,
    })
}

fn on(cx: &mut Cx, v: &Val) -> Option<Vec<EvalOn>> {
    let items = match &v.kind {
        Value::List(items) => items.clone(),
        _ => vec![v.clone()],
    };
    let mut out = Vec::new();
    for item in &items {
        match as_choice(cx, item, "evaluation target", &["base", "adapter"])?.as_str() {
            "base" => out.push(EvalOn::Base),
            _ => out.push(EvalOn::Adapter),
        }
    }
    out.dedup();
    Some(out)
}

fn tasks(cx: &mut Cx, v: &Val) -> Option<Vec<Task>> {
    let Value::List(items) = &v.kind else {
        wrong_type(cx, "a list of tasks", v, Vec::new());
        return None;
    };
    if items.is_empty() {
        crate::check::fields::out_of_range(
            cx,
            "tasks",
            "[]",
            v.span,
            "non-empty",
            "name at least one task",
        );
        return None;
    }
    let tasks: Vec<Option<Task>> = items.iter().map(|item| task(cx, item)).collect();
    tasks.into_iter().collect()
}

fn task(cx: &mut Cx, v: &Val) -> Option<Task> {
    let name = match &v.kind {
        Value::Symbol(s) => s.clone(),
        Value::Call { name, .. } => name.node.clone(),
        _ => {
            wrong_type(cx, "a task name", v, Vec::new());
            return None;
        }
    };
    let name = as_choice(
        cx,
        &Val {
            kind: Value::Symbol(name),
            span: v.span,
        },
        "eval task",
        &TASKS,
    )?;
    let task = match name.as_str() {
        "truthfulqa_mc1" | "truthfulqa_mc2" => {
            Fields::call(cx, v, &[])?.finish(cx);
            if name == "truthfulqa_mc1" {
                Task::TruthfulqaMc1
            } else {
                Task::TruthfulqaMc2
            }
        }
        "mmlu" => {
            let mut a = Fields::call(cx, v, &["subjects", "shots"])?;
            let subjects = match a.value("subjects") {
                Ok(None) => Some(Vec::new()),
                Ok(Some(list)) => names(cx, &list, "MMLU subject", &MMLU_SUBJECTS),
                Err(Invalid) => None,
            };
            let shots = a.int(
                cx,
                "shots",
                Some(5),
                0,
                5,
                "the MMLU dev split has 5 examples per subject",
            );
            a.finish(cx);
            Task::Mmlu {
                subjects: subjects?,
                shots: shots? as u32,
            }
        }
        "blimp" => {
            let mut a = Fields::call(cx, v, &["paradigms"])?;
            let paradigms = match a.value("paradigms") {
                Ok(None) => Some(Vec::new()),
                Ok(Some(list)) => names(cx, &list, "BLiMP paradigm", &BLIMP_PARADIGMS),
                Err(Invalid) => None,
            };
            a.finish(cx);
            Task::Blimp {
                paradigms: paradigms?,
            }
        }
        "heldout" => {
            let mut a = Fields::call(cx, v, &["max_new_tokens"])?;
            let max_new_tokens = a.int(
                cx,
                "max_new_tokens",
                Some(16),
                1,
                4096,
                "generate at least one token",
            );
            a.finish(cx);
            Task::Heldout {
                max_new_tokens: max_new_tokens? as u32,
            }
        }
        arithmetic => {
            Fields::call(cx, v, &[])?.finish(cx);
            // arithmetic_<digits>d<a|s>
            let tail = arithmetic.trim_start_matches("arithmetic_");
            let digits = tail
                .chars()
                .next()
                .and_then(|c| c.to_digit(10))
                .unwrap_or(2);
            let op = if tail.ends_with('a') {
                ArithOp::Plus
            } else {
                ArithOp::Minus
            };
            Task::Arithmetic { digits, op }
        }
    };
    Some(task)
}

fn names(cx: &mut Cx, v: &Val, what: &str, choices: &[&str]) -> Option<Vec<String>> {
    let items = match &v.kind {
        Value::List(items) => items.clone(),
        _ => vec![v.clone()],
    };
    let names: Vec<Option<String>> = items
        .iter()
        .map(|item| as_choice(cx, item, what, choices))
        .collect();
    names.into_iter().collect()
}
