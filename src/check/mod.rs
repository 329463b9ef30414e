//! Checker: typed AST → validated pipeline, collecting every diagnostic in one pass.
//!
//! 1. [`load`] reads the file and its `extend`s and merges them with `--set`s into a [`doc::Doc`];
//! 2. [`convert`] evaluates every key ([`eval`]) and converts each stage ([`stages`]);
//! 3. [`rules`] checks what spans several keys and adds the seed's warnings;
//! 4. [`sweep`] expands the sweep and checks every point the same way.

pub mod convert;
pub mod cx;
pub mod device;
pub mod doc;
pub mod eval;
pub mod fields;
pub mod load;
pub mod paths;
pub mod resources;
pub mod rules;
pub mod stages;
pub mod sweep;
pub mod value;
pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::check::cx::Cx;
use crate::check::doc::Doc;
use crate::check::eval::Evaluator;
use crate::check::load::Loader;
use crate::diag::LangDiagnostic;
use crate::ir::{Pipeline, Run, RunConfig};
use crate::plan::graph::StageGraph;
use crate::source::SourceMap;
use crate::span::Span;
use crate::syntax::ast::{Expr, ExprKind};

/// Built-in architecture names `model.arch` accepts.
pub fn arch_names() -> Vec<&'static str> {
    crate::model::arch::Arch::builtin_names().collect()
}

/// The outcome of checking one file.
pub struct Checked {
    /// Every file read (for rendering diagnostics).
    pub sources: SourceMap,
    /// The validated pipeline, when there were no errors.
    pub pipeline: Option<Pipeline>,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<LangDiagnostic>,
    /// Where each key's value was written (`dataset.source`, `eval.before.tasks`, `name`): the
    /// side table that lets later stages point runtime diagnostics into the file.
    pub spans: BTreeMap<String, Span>,
}

impl Checked {
    /// The source and span of a key's value, for a diagnostic about it (`dataset.source`).
    pub fn locate(&self, key: &str) -> Option<(crate::diag::Src, miette::SourceSpan)> {
        let span = self.spans.get(key)?;
        Some((self.sources.get(span.file).named(), (*span).into()))
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(LangDiagnostic::is_error)
    }
}

/// Checks a pipeline file with `--set` overrides.
pub fn check_file(path: &Path, sets: &[String]) -> Checked {
    let mut sources = SourceMap::new();
    let mut diagnostics = Vec::new();
    let doc = Loader {
        sources: &mut sources,
        diags: &mut diagnostics,
    }
    .load(path, sets);
    finish(sources, diagnostics, doc, path)
}

/// Checks text that is not on disk (tests, fuzzing), named `name` in diagnostics.
pub fn check_text(name: &str, text: &str, sets: &[String]) -> Checked {
    let mut sources = SourceMap::new();
    let mut diagnostics = Vec::new();
    let doc = Loader {
        sources: &mut sources,
        diags: &mut diagnostics,
    }
    .load_text(name, text, sets);
    finish(sources, diagnostics, doc, Path::new(name))
}

fn finish(
    sources: SourceMap,
    mut diagnostics: Vec<LangDiagnostic>,
    doc: Option<Doc>,
    path: &Path,
) -> Checked {
    let mut pipeline = None;
    let mut spans = BTreeMap::new();
    if let Some(doc) = doc {
        for key in &doc.top {
            spans.insert(key.name.clone(), key.value.span);
        }
        for stage in &doc.stages {
            for key in &stage.keys {
                spans.insert(format!("{}.{}", stage.label(), key.name), key.value.span);
            }
        }
        let mut cx = Cx::new(&sources);
        pipeline = check_doc(&mut cx, &doc, path);
        diagnostics.extend(cx.diags);
    }
    if diagnostics.iter().any(LangDiagnostic::is_error) {
        pipeline = None;
    }
    Checked {
        sources,
        pipeline,
        diagnostics,
        spans,
    }
}

/// Converts, cross-checks and graph-checks one document of the pipeline `name`.
fn config(cx: &mut Cx, doc: &Doc, name: &str) -> Option<RunConfig> {
    let config = convert::run_config(cx, doc, &arch_names(), name)?;
    let before = cx.diags.iter().filter(|d| d.is_error()).count();
    if let Err(cycle) = StageGraph::build(&config) {
        let span = cycle
            .iter()
            .find_map(|name| {
                let stage = name.split('@').next().unwrap_or(name);
                doc.stages
                    .iter()
                    .find(|s| s.label() == stage)
                    .and_then(|s| s.key("after"))
                    .map(|k| k.value.span)
            })
            .unwrap_or(doc.main);
        cx.push(LangDiagnostic::Cycle {
            cycle: cycle.join(" → "),
            src: cx.src(span),
            span: span.into(),
        });
    }
    let after = cx.diags.iter().filter(|d| d.is_error()).count();
    (after == before).then_some(config)
}

fn check_doc(cx: &mut Cx, doc: &Doc, path: &Path) -> Option<Pipeline> {
    let top = convert::top(cx, doc);
    let name = top.name.unwrap_or_else(|| {
        path.file_stem()
            .map_or("pipeline".into(), |s| s.to_string_lossy().into_owned())
    });
    let base = config(cx, doc, &name);
    let Some(block) = &doc.sweep else {
        let config = base?;
        return Some(Pipeline {
            name: name.clone(),
            description: top.description,
            source: path.to_path_buf(),
            runs_dir: top.runs_dir.unwrap_or_else(|| PathBuf::from("runs")),
            sweep: None,
            runs: vec![Run {
                name,
                point: Vec::new(),
                config,
            }],
        });
    };
    // With a sweep, the file's own values need not be a run: only errors are kept from it, and
    // warnings come from the points.
    cx.diags.retain(LangDiagnostic::is_error);
    base.as_ref()?;
    let (sweep, points) = sweep::axes(cx, block)?;
    let mut runs = Vec::new();
    let mut failing = 0usize;
    let header = block.header();
    for point in &points {
        let point_doc = sweep::apply(cx, doc, point)?;
        let mut sub = Cx::new(cx.sources);
        let point_config = config(&mut sub, &point_doc, &name);
        let mut shown = point.shown.clone();
        for key in &point.derived {
            shown.push((
                key.clone(),
                derived_value(&point_doc, key, header).unwrap_or_else(|| "?".into()),
            ));
        }
        if sub.has_errors() {
            failing += 1;
            if failing <= 20 {
                let text = shown
                    .iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                cx.push(LangDiagnostic::SweepPoint {
                    point: text,
                    src: cx.src(header),
                    span: header.into(),
                    related: sub
                        .diags
                        .into_iter()
                        .filter(LangDiagnostic::is_error)
                        .collect(),
                });
            }
            continue;
        }
        // A warning at the same place for several points (a derived `alpha`) is shown once.
        for warning in sub.diags {
            let duplicate = cx
                .diags
                .iter()
                .any(|d| d.code_str() == warning.code_str() && place(d) == place(&warning));
            if !duplicate {
                cx.push(warning);
            }
        }
        if let Some(config) = point_config {
            runs.push(Run {
                name: sweep::run_name(&shown),
                point: shown,
                config,
            });
        }
    }
    if failing > 0 {
        return None;
    }
    dedupe_names(&mut runs);
    Some(Pipeline {
        name,
        description: top.description,
        source: path.to_path_buf(),
        runs_dir: top.runs_dir.unwrap_or_else(|| PathBuf::from("runs")),
        sweep: Some(sweep),
        runs,
    })
}

/// The evaluated value of a derived key at a point, for the run's name.
fn derived_value(doc: &Doc, key: &str, span: Span) -> Option<String> {
    let segments = key
        .split('.')
        .map(|s| crate::span::Spanned::new(s.to_string(), span))
        .collect();
    let path = crate::syntax::ast::Path { segments, span };
    let expr = Expr {
        kind: ExprKind::Path(path),
        span,
    };
    let empty = SourceMap::new();
    let mut scratch = Cx::new(&empty);
    let v = Evaluator::new(doc).expr(&mut scratch, &expr, None)?;
    Some(v.kind.display())
}

/// Where a diagnostic's first label points (file name, offset).
fn place(d: &LangDiagnostic) -> Option<(String, usize)> {
    use miette::Diagnostic;
    let offset = d.labels()?.next()?.offset();
    let name = d.source_code().and_then(|s| {
        s.read_span(&(offset, 0).into(), 0, 0)
            .ok()?
            .name()
            .map(str::to_string)
    });
    Some((name.unwrap_or_default(), offset))
}

fn dedupe_names(runs: &mut [Run]) {
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    for (i, run) in runs.iter_mut().enumerate() {
        if names.iter().filter(|n| **n == run.name).count() > 1 {
            run.name = format!("{}-{}", run.name, i + 1);
        }
    }
}
