//! The checker's context: the loaded sources and the diagnostics collected so far.

use crate::diag::{LangDiagnostic, Src};
use crate::source::SourceMap;
use crate::span::Span;

/// Shared state of one check.
pub struct Cx<'a> {
    /// Every loaded file.
    pub sources: &'a SourceMap,
    /// Diagnostics in the order found.
    pub diags: Vec<LangDiagnostic>,
}

impl<'a> Cx<'a> {
    /// A context over `sources`.
    pub fn new(sources: &'a SourceMap) -> Cx<'a> {
        Cx {
            sources,
            diags: Vec::new(),
        }
    }

    /// The source a span points into.
    pub fn src(&self, span: Span) -> Src {
        self.sources.get(span.file).named()
    }

    /// Records a diagnostic.
    pub fn push(&mut self, diag: LangDiagnostic) {
        self.diags.push(diag);
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(LangDiagnostic::is_error)
    }

    /// The second span as a label when it is in the same file as the first.
    pub fn same_file(&self, primary: Span, other: Option<Span>) -> Option<miette::SourceSpan> {
        other.filter(|o| o.file == primary.file).map(Into::into)
    }
}
