//! The merged document: every stage's keys after `extend`s, overrides and `--set`s, each key
//! remembering the file and span it was written at.

use crate::span::Span;
use crate::syntax::ast::{Block, Expr};

/// The kinds of stage a file may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageKind {
    /// `dataset`
    Dataset,
    /// `model`
    Model,
    /// `quantize`
    Quantize,
    /// `lora`
    Lora,
    /// `train`
    Train,
    /// `eval` (may be named; several allowed)
    Eval,
    /// `export`
    Export,
    /// `report`
    Report,
    /// Variables of the current sweep point (`sweep.ratio`); never written as a block.
    SweepVars,
}

impl StageKind {
    /// Stage kinds that may be written as blocks (the sweep block is handled apart).
    pub const WRITTEN: [StageKind; 8] = [
        StageKind::Dataset,
        StageKind::Model,
        StageKind::Quantize,
        StageKind::Lora,
        StageKind::Train,
        StageKind::Eval,
        StageKind::Export,
        StageKind::Report,
    ];

    /// The surface name.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Dataset => "dataset",
            StageKind::Model => "model",
            StageKind::Quantize => "quantize",
            StageKind::Lora => "lora",
            StageKind::Train => "train",
            StageKind::Eval => "eval",
            StageKind::Export => "export",
            StageKind::Report => "report",
            StageKind::SweepVars => "sweep",
        }
    }

    /// Parses a block kind.
    pub fn from_name(name: &str) -> Option<StageKind> {
        StageKind::WRITTEN.into_iter().find(|k| k.name() == name)
    }

    /// Every name a block may start with (for did-you-mean).
    pub fn block_names() -> Vec<&'static str> {
        let mut names: Vec<&str> = StageKind::WRITTEN.iter().map(|k| k.name()).collect();
        names.push("sweep");
        names
    }
}

/// One assigned key.
#[derive(Clone, Debug)]
pub struct KeyDef {
    /// The key (one segment).
    pub name: String,
    /// Where the key was written.
    pub key_span: Span,
    /// The value's expression.
    pub value: Expr,
}

/// A stage with its merged keys.
#[derive(Clone, Debug)]
pub struct StageDef {
    /// The kind.
    pub kind: StageKind,
    /// The name (`eval before`).
    pub name: Option<String>,
    /// Where the stage was (last) declared.
    pub header: Span,
    /// Keys in first-assigned order.
    pub keys: Vec<KeyDef>,
}

impl StageDef {
    /// `lora`, `eval.before`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{}.{n}", self.kind.name()),
            None => self.kind.name().to_string(),
        }
    }

    /// A key by name.
    pub fn key(&self, name: &str) -> Option<&KeyDef> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Sets (or replaces) a key, keeping its position when replaced.
    pub fn set(&mut self, def: KeyDef) {
        match self.keys.iter_mut().find(|k| k.name == def.name) {
            Some(existing) => *existing = def,
            None => self.keys.push(def),
        }
    }
}

/// The merged pipeline before evaluation.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// Stages in declaration order.
    pub stages: Vec<StageDef>,
    /// Top-level keys (`name`, `description`, `runs_dir`).
    pub top: Vec<KeyDef>,
    /// The sweep block (the last file's replaces any inherited one).
    pub sweep: Option<Block>,
    /// The span of the main file's start, for "missing stage" diagnostics.
    pub main: Span,
}

impl Doc {
    /// The stage with this kind and name.
    pub fn stage(&self, kind: StageKind, name: Option<&str>) -> Option<&StageDef> {
        self.stages
            .iter()
            .find(|s| s.kind == kind && s.name.as_deref() == name)
    }

    /// The index of the stage with this kind and name.
    pub fn stage_index(&self, kind: StageKind, name: Option<&str>) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.kind == kind && s.name.as_deref() == name)
    }

    /// The stage with this kind and name, created empty (at `span`) if absent.
    pub fn stage_mut(&mut self, kind: StageKind, name: Option<&str>, span: Span) -> &mut StageDef {
        let index = match self.stage_index(kind, name) {
            Some(i) => i,
            None => {
                self.stages.push(StageDef {
                    kind,
                    name: name.map(str::to_string),
                    header: span,
                    keys: Vec::new(),
                });
                self.stages.len() - 1
            }
        };
        &mut self.stages[index]
    }
}
