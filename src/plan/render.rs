//! `lpipe plan` output: text for people, RON/JSON for machines (the IR), DOT for Graphviz.

use std::fmt::Write as _;

use crate::ir::{DataSource, ModelSource, Pipeline, RunConfig, Task};
use crate::plan::graph::StageGraph;
use crate::plan::lengths::{LengthReport, Outcome};
use crate::plan::schedule::Schedule;

/// Groups digits by thousands: 4194304 → "4,194,304".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The human-readable plan; `lengths` from [`crate::plan::lengths::measure`] (empty: not measured).
pub fn text(pipeline: &Pipeline, schedule: &Schedule, lengths: &[LengthReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pipeline {} ({})",
        pipeline.name,
        pipeline.source.display()
    );
    if let Some(d) = &pipeline.description {
        let _ = writeln!(out, "  {d}");
    }
    let _ = writeln!(out, "\nstages, in execution order:");
    let config = pipeline.runs.first().map(|r| &r.config);
    let name_width = schedule
        .steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(8);
    for (i, step) in schedule.steps.iter().enumerate() {
        let detail = config.map(|c| describe(c, &step.name)).unwrap_or_default();
        let after = if step.after.is_empty() {
            String::new()
        } else {
            format!("  (after {})", step.after.join(", "))
        };
        let _ = writeln!(
            out,
            "  {:>2}. {:<name_width$}  {detail}{after}",
            i + 1,
            step.name
        );
    }
    let all_runs = lengths.len() <= 1;
    for report in lengths {
        out.push('\n');
        out.push_str(&length_stats(report, all_runs));
    }
    let _ = writeln!(out, "\nruns ({}):", schedule.runs.len());
    let width = schedule
        .runs
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>14}  {:>16}  {:>12}",
        "run", "trainable", "base params", "peak memory"
    );
    for run in &schedule.runs {
        let trainable = run.trainable.map_or("?".into(), thousands);
        let total = run.base_total.map_or("?".into(), thousands);
        let memory = run
            .memory
            .map_or("-".into(), crate::plan::memory::format_gb);
        let _ = writeln!(
            out,
            "  {:<width$}  {trainable:>14}  {total:>16}  {memory:>12}",
            run.name
        );
        if let Some(note) = &run.note {
            let _ = writeln!(out, "  {:<width$}  note: {note}", "");
        }
    }
    if let Some(sweep) = &pipeline.sweep {
        let axes: Vec<String> = sweep
            .axes
            .iter()
            .map(|a| {
                a.keys
                    .iter()
                    .map(|(k, v)| format!("{k} ∈ [{}]", v.join(", ")))
                    .collect::<Vec<_>>()
                    .join(" with ")
            })
            .collect();
        let _ = writeln!(out, "\nsweep: {}", axes.join(" × "));
        for (key, expr) in &sweep.derived {
            let _ = writeln!(out, "  derived: {key} = {expr}");
        }
    }
    out
}

/// The dataset-lengths section of the plan: what is counted, by which tokenizer, and the numbers.
pub fn length_stats(report: &LengthReport, all_runs: bool) -> String {
    let runs = if all_runs {
        String::new()
    } else {
        let plural = if report.runs.len() == 1 { "" } else { "s" };
        format!(" for run{plural} {}", report.runs.join(", "))
    };
    let l = match &report.outcome {
        Outcome::Skipped { reason } => return format!("length stats{runs}: skipped ({reason})\n"),
        Outcome::Measured(l) => l,
    };
    let s = &l.text;
    let specials = match (l.bos, l.eos) {
        (true, true) => "BOS/EOS",
        (true, false) => "BOS",
        (false, true) => "EOS",
        (false, false) => "",
    };
    let without = if specials.is_empty() {
        String::new()
    } else {
        format!(", without {specials}")
    };
    let mut out = format!(
        "length stats{runs} (tokens of template prompt + response{without}; tokenizer {}{}):\n",
        l.tokenizer.display(),
        if l.cached { ", cached" } else { "" }
    );
    let _ = writeln!(
        out,
        "  {} examples: median {}, mean {:.2}, p95 {}, max {}, min {}",
        thousands(s.count as u64),
        decimal(s.median),
        s.mean,
        decimal(s.p95),
        thousands(s.max as u64),
        thousands(s.min as u64)
    );
    let with = if specials.is_empty() {
        String::new()
    } else {
        format!(" with {}", specials.replace('/', " + "))
    };
    let _ = writeln!(
        out,
        "  truncated: {} of {} longer than max_seq_len {}{with}",
        thousands(s.truncated as u64),
        thousands(s.count as u64),
        thousands(l.max_seq_len as u64)
    );
    out
}

/// An integer without decimals, else two (medians and percentiles can fall between lengths).
fn decimal(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        thousands(x as u64)
    } else {
        format!("{x:.2}")
    }
}

/// One line about a stage of the first run.
fn describe(c: &RunConfig, node: &str) -> String {
    let stage = node.split('@').next().unwrap_or(node);
    match stage {
        "dataset" => c
            .dataset
            .as_ref()
            .map_or(String::new(), |d| match &d.source {
                DataSource::Json { path, lines, .. } => {
                    format!(
                        "{} {}, val {:.0}%",
                        if *lines { "jsonl" } else { "json" },
                        path.display(),
                        d.val_split * 100.0
                    )
                }
                DataSource::Arithmetic { digits, count, .. } => {
                    format!("synthetic arithmetic, {digits} digits, {count} records")
                }
                DataSource::Tokens { path } => format!(
                    "pre-tokenized {}, val {:.0}%",
                    path.display(),
                    d.val_split * 100.0
                ),
            }),
        "tokenize" => c.dataset.as_ref().map_or(String::new(), |d| {
            let template = match (&d.source, &d.template) {
                (DataSource::Tokens { .. }, _) => "no",
                (_, t) => match t {
                    crate::ir::Template::Alpaca => "alpaca",
                    crate::ir::Template::Chatml { .. } => "chatml",
                    crate::ir::Template::Custom { .. } => "custom",
                },
            };
            format!(
                "{template} template, max_seq_len {}{}",
                d.max_seq_len,
                if d.mask_prompt { ", prompt masked" } else { "" }
            )
        }),
        "model" => {
            let source = match &c.model.source {
                ModelSource::Local(p) => p.display().to_string(),
                ModelSource::Hf { repo, .. } => format!("hf {repo}"),
                ModelSource::Wheel { requirement, file } => format!("wheel {requirement} {file}"),
            };
            let arch = c
                .model
                .arch
                .as_deref()
                .map(|a| format!(" [{a}]"))
                .unwrap_or_default();
            format!(
                "{source}{arch}, {} on {}",
                c.model.precision.name(),
                c.model.device
            )
        }
        "quantize" => c.quantize.as_ref().map_or(String::new(), |q| {
            format!(
                "{}{}, blocks of {}",
                q.kind.name(),
                if q.double_quant {
                    " + double quant"
                } else {
                    ""
                },
                q.block_size
            )
        }),
        "lora" => c.lora.as_ref().map_or(String::new(), |l| {
            let targets: Vec<&str> = l.targets.iter().map(|t| t.name()).collect();
            format!(
                "r={} alpha={} dropout={} on {}",
                l.r,
                l.alpha,
                l.dropout,
                targets.join(",")
            )
        }),
        "train" => c.train.as_ref().map_or(String::new(), |t| {
            let length = match t.length {
                crate::ir::Length::Iters(i) => format!("{i} iters"),
                crate::ir::Length::Epochs(e) => format!("{e} epochs"),
            };
            format!(
                "{} lr={} batch {}/{} micro, {length}",
                t.optimizer.name(),
                crate::syntax::format::format_float(t.optimizer.lr()),
                t.batch_size,
                t.micro_batch_size
            )
        }),
        "export" => c.export.as_ref().map_or(String::new(), |e| {
            format!(
                "{}{}",
                e.path.display(),
                if e.merge { " (merged)" } else { "" }
            )
        }),
        _ => {
            let name =
                stage
                    .strip_prefix("eval.")
                    .unwrap_or(if stage == "eval" { "eval" } else { "" });
            c.evals
                .iter()
                .find(|e| e.name == name)
                .map_or(String::new(), |e| {
                    let tasks: Vec<String> = e.tasks.iter().map(Task::name).collect();
                    let limit = e.limit.map(|l| format!(", limit {l}")).unwrap_or_default();
                    format!("{}{limit}", tasks.join(", "))
                })
        }
    }
}

/// Graphviz DOT of the stage graph.
pub fn dot(pipeline: &Pipeline, graph: &StageGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {:?} {{", pipeline.name);
    let _ = writeln!(out, "  rankdir=LR;\n  node [shape=box, style=rounded];");
    for i in graph.graph.node_indices() {
        let _ = writeln!(out, "  n{} [label={:?}];", i.index(), graph.graph[i].name);
    }
    for e in graph.graph.edge_indices() {
        if let Some((a, b)) = graph.graph.edge_endpoints(e) {
            let _ = writeln!(out, "  n{} -> n{};", a.index(), b.index());
        }
    }
    out.push_str("}\n");
    out
}
