//! Reading files, following `extend`, and merging blocks, overrides and `--set`s into a [`Doc`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::check::doc::{Doc, KeyDef, StageKind};
use crate::check::paths::normalize;
use crate::diag::{LangDiagnostic, suggest};
use crate::source::{SourceFile, SourceMap};
use crate::span::Span;
use crate::syntax::ast::{Arg, Assign, Block, Expr, ExprKind, File, Ident, Item};
use crate::syntax::parser::{parse_file, parse_set};

/// Top-level keys a file may assign.
pub const TOP_KEYS: [&str; 3] = ["name", "description", "runs_dir"];

/// Loads `path` (with its `extend`s) and applies `sets`, collecting diagnostics.
pub struct Loader<'a> {
    /// Every file read so far.
    pub sources: &'a mut SourceMap,
    /// Problems found.
    pub diags: &'a mut Vec<LangDiagnostic>,
}

impl Loader<'_> {
    /// Loads a file from disk.
    pub fn load(&mut self, path: &Path, sets: &[String]) -> Option<Doc> {
        let mut chain = Vec::new();
        let mut doc = self.load_file(path, &mut chain, None)?;
        self.apply_sets(&mut doc, sets);
        Some(doc)
    }

    /// Loads text that did not come from disk (tests, fuzzing); `extend`s resolve against the
    /// current directory.
    pub fn load_text(&mut self, name: &str, text: &str, sets: &[String]) -> Option<Doc> {
        let source = SourceFile::virtual_file(name, text);
        let id = self.sources.add(source.clone());
        let file = self.parse(&source, id)?;
        let mut chain = Vec::new();
        let mut doc = self.apply_extends(&file, &source, &mut chain);
        doc.main = Span::new(id, 0, 0);
        self.apply_file(&mut doc, &file);
        self.apply_sets(&mut doc, sets);
        Some(doc)
    }

    fn parse(&mut self, source: &SourceFile, id: crate::span::FileId) -> Option<File> {
        match parse_file(source, id) {
            Ok(file) => Some(file),
            Err(errors) => {
                self.diags.extend(errors);
                None
            }
        }
    }

    fn load_file(
        &mut self,
        path: &Path,
        chain: &mut Vec<PathBuf>,
        from: Option<Span>,
    ) -> Option<Doc> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                let diag = match from {
                    Some(span) => LangDiagnostic::ExtendNotFound {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                        src: self.sources.get(span.file).named(),
                        span: span.into(),
                    },
                    None => LangDiagnostic::ReadFile {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    },
                };
                self.diags.push(diag);
                return None;
            }
        };
        let source = SourceFile::new(path, text);
        let id = self.sources.add(source.clone());
        let file = self.parse(&source, id)?;
        chain.push(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        let mut doc = self.apply_extends(&file, &source, chain);
        chain.pop();
        doc.main = Span::new(id, 0, 0);
        self.apply_file(&mut doc, &file);
        Some(doc)
    }

    fn apply_extends(&mut self, file: &File, source: &SourceFile, chain: &mut Vec<PathBuf>) -> Doc {
        let mut doc = Doc::default();
        for extend in &file.extends {
            let path = normalize(&source.dir().join(&extend.path.node));
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if let Some(pos) = chain.iter().position(|p| *p == canonical) {
                let mut names: Vec<String> = chain[pos..].iter().map(|p| file_name(p)).collect();
                names.push(file_name(&canonical));
                self.diags.push(LangDiagnostic::Cycle {
                    cycle: names.join(" → "),
                    src: source.named(),
                    span: extend.path.span.into(),
                });
                continue;
            }
            if let Some(base) = self.load_file(&path, chain, Some(extend.path.span)) {
                merge(&mut doc, base);
            }
        }
        doc
    }

    /// Applies one file's blocks and assignments on top of what it extends.
    fn apply_file(&mut self, doc: &mut Doc, file: &File) {
        let mut seen_blocks: HashMap<String, Span> = HashMap::new();
        let mut seen_top: HashMap<String, Span> = HashMap::new();
        for item in &file.items {
            match item {
                Item::Block(block) => {
                    let id = match &block.name {
                        Some(n) => format!("{}.{}", block.kind.node, n.node),
                        None => block.kind.node.clone(),
                    };
                    if let Some(first) = seen_blocks.get(&id) {
                        self.diags.push(LangDiagnostic::DuplicateStage {
                            stage: id.clone(),
                            src: self.sources.get(block.span.file).named(),
                            span: block.header().into(),
                            first: (*first).into(),
                        });
                        continue;
                    }
                    seen_blocks.insert(id, block.header());
                    self.apply_block(doc, block);
                }
                Item::Assign(assign) => {
                    let key = assign.key.dotted();
                    if let Some(first) = seen_top.get(&key) {
                        self.duplicate_key(&key, assign.key.span, *first);
                        continue;
                    }
                    seen_top.insert(key, assign.key.span);
                    self.apply_override(doc, assign);
                }
            }
        }
    }

    fn duplicate_key(&mut self, key: &str, span: Span, first: Span) {
        self.diags.push(LangDiagnostic::DuplicateKey {
            key: key.to_string(),
            src: self.sources.get(span.file).named(),
            span: span.into(),
            first: first.into(),
        });
    }

    fn apply_block(&mut self, doc: &mut Doc, block: &Block) {
        if block.kind.node == "sweep" && block.name.is_none() {
            doc.sweep = Some(block.clone());
            return;
        }
        let Some(kind) = StageKind::from_name(&block.kind.node) else {
            self.diags.push(LangDiagnostic::UnknownStage {
                kind: block.kind.node.clone(),
                src: self.sources.get(block.span.file).named(),
                span: block.kind.span.into(),
                help: suggest(&block.kind.node, &StageKind::block_names()),
            });
            return;
        };
        if let (Some(name), false) = (&block.name, kind == StageKind::Eval) {
            self.diags.push(LangDiagnostic::UnknownStage {
                kind: format!("{} {}", block.kind.node, name.node),
                src: self.sources.get(block.span.file).named(),
                span: block.header().into(),
                help: format!(
                    "only `eval` blocks take a name; write `{} {{ … }}`",
                    block.kind.node
                ),
            });
            return;
        }
        let name = block.name.as_ref().map(|n| n.node.as_str());
        doc.stage_mut(kind, name, block.header()).header = block.header();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for item in &block.items {
            match item {
                Item::Assign(assign) => {
                    let key = assign.key.dotted();
                    if let Some(first) = seen.get(&key) {
                        self.duplicate_key(&key, assign.key.span, *first);
                        continue;
                    }
                    seen.insert(key, assign.key.span);
                    let Some((head, rest)) = assign.key.segments.split_first() else {
                        continue;
                    };
                    let index = doc.stage_index(kind, name).unwrap_or(0);
                    self.set_key(doc, index, head, rest, assign);
                }
                Item::Block(inner) => self.diags.push(LangDiagnostic::UnknownStage {
                    kind: inner.kind.node.clone(),
                    src: self.sources.get(inner.span.file).named(),
                    span: inner.kind.span.into(),
                    help: format!(
                        "blocks cannot be nested inside `{}`; only `sweep` has `grid`/`zip` blocks",
                        kind.name()
                    ),
                }),
            }
        }
    }

    /// A top-level or `--set` assignment: `name = …` or `stage[.name].key[.arg] = …`.
    fn apply_override(&mut self, doc: &mut Doc, assign: &Assign) {
        let segments = &assign.key.segments;
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        if rest.is_empty() {
            if TOP_KEYS.contains(&first.node.as_str()) {
                let def = KeyDef {
                    name: first.node.clone(),
                    key_span: assign.key.span,
                    value: assign.value.clone(),
                };
                match doc.top.iter_mut().find(|k| k.name == def.name) {
                    Some(existing) => *existing = def,
                    None => doc.top.push(def),
                }
            } else {
                let mut choices: Vec<&str> = TOP_KEYS.to_vec();
                choices.extend(StageKind::block_names());
                self.diags.push(LangDiagnostic::UnknownKey {
                    key: first.node.clone(),
                    within: "the top level".into(),
                    src: self.sources.get(first.span.file).named(),
                    span: first.span.into(),
                    help: format!(
                        "{}; stage keys are written `stage.key = …`",
                        suggest(&first.node, &choices)
                    ),
                });
            }
            return;
        }
        let Some(kind) = StageKind::from_name(&first.node) else {
            self.diags.push(LangDiagnostic::UnknownStage {
                kind: first.node.clone(),
                src: self.sources.get(first.span.file).named(),
                span: first.span.into(),
                help: suggest(&first.node, &StageKind::block_names()),
            });
            return;
        };
        // `eval.before.limit`: the second segment names an eval stage when one has that name.
        let (name, rest) = match rest.split_first() {
            Some((n, tail))
                if kind == StageKind::Eval
                    && !tail.is_empty()
                    && doc.stage(kind, Some(n.node.as_str())).is_some() =>
            {
                (Some(n.node.clone()), tail)
            }
            _ => (None, rest),
        };
        let Some((head, tail)) = rest.split_first() else {
            return;
        };
        doc.stage_mut(kind, name.as_deref(), first.span);
        let index = doc.stage_index(kind, name.as_deref()).unwrap_or(0);
        self.set_key(doc, index, head, tail, assign);
    }

    fn set_key(
        &mut self,
        doc: &mut Doc,
        stage: usize,
        head: &Ident,
        tail: &[Ident],
        assign: &Assign,
    ) {
        let Some(def) = doc.stages.get_mut(stage) else {
            return;
        };
        if tail.is_empty() {
            def.set(KeyDef {
                name: head.node.clone(),
                key_span: assign.key.span,
                value: assign.value.clone(),
            });
            return;
        }
        let label = def.label();
        let Some(key) = def.keys.iter_mut().find(|k| k.name == head.node) else {
            self.diags.push(LangDiagnostic::UndefinedReference {
                name: format!("{label}.{}", head.node),
                src: self.sources.get(head.span.file).named(),
                span: head.span.into(),
                help: format!(
                    "set `{label}.{}` itself before overriding one of its arguments",
                    head.node
                ),
            });
            return;
        };
        if let Err(at) = set_deep(&mut key.value, tail, assign.value.clone()) {
            self.diags.push(LangDiagnostic::UndefinedReference {
                name: assign.key.dotted(),
                src: self.sources.get(at.file).named(),
                span: at.into(),
                help: "only arguments of a call (`adamw(lr = …)`) or entries of a map can be set by a dotted key".into(),
            });
        }
    }

    fn apply_sets(&mut self, doc: &mut Doc, sets: &[String]) {
        for set in sets {
            let source = SourceFile::virtual_file("--set", set.as_str());
            let id = self.sources.add(source.clone());
            match parse_set(&source, id) {
                Ok(assign) => self.apply_override(doc, &assign),
                Err(errors) => self.diags.extend(errors),
            }
        }
    }
}

/// Sets `path` inside a call's named arguments or a map's entries; on failure returns the span
/// of the value that cannot hold it.
pub fn set_deep(expr: &mut Expr, path: &[Ident], value: Expr) -> Result<(), Span> {
    let Some((head, tail)) = path.split_first() else {
        *expr = value;
        return Ok(());
    };
    if let ExprKind::Path(p) = &expr.kind {
        // `optimizer = adamw` then `train.optimizer.lr = …`: the bare name becomes a call.
        if let [name] = p.segments.as_slice() {
            expr.kind = ExprKind::Call {
                name: name.clone(),
                args: Vec::new(),
            };
        }
    }
    let span = expr.span;
    match &mut expr.kind {
        ExprKind::Call { args, .. } => match args
            .iter_mut()
            .find(|a| a.name.as_ref().is_some_and(|n| n.node == head.node))
        {
            Some(arg) => set_deep(&mut arg.value, tail, value),
            None if tail.is_empty() => {
                args.push(Arg {
                    name: Some(head.clone()),
                    value,
                });
                Ok(())
            }
            None => Err(head.span),
        },
        ExprKind::Map(entries) => match entries.iter_mut().find(|(k, _)| k.node == head.node) {
            Some((_, v)) => set_deep(v, tail, value),
            None if tail.is_empty() => {
                entries.push((head.clone(), value));
                Ok(())
            }
            None => Err(head.span),
        },
        _ => Err(span),
    }
}

/// Merges `base` into `doc` (later extends override earlier ones).
fn merge(doc: &mut Doc, base: Doc) {
    for stage in base.stages {
        let target = doc.stage_mut(stage.kind, stage.name.as_deref(), stage.header);
        for key in stage.keys {
            target.set(key);
        }
    }
    for key in base.top {
        match doc.top.iter_mut().find(|k| k.name == key.name) {
            Some(existing) => *existing = key,
            None => doc.top.push(key),
        }
    }
    if base.sweep.is_some() {
        doc.sweep = base.sweep;
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
