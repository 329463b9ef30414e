//! AST → canonical text for `lpipe fmt`: two-space indents, one item per line, `key = value`
//! spacing, a blank line around top-level blocks, at most one blank line kept elsewhere, and
//! every comment kept (a comment inside a value moves to the line above it).

use crate::syntax::ast::{Block, Comment, Expr, ExprKind, File, Item};

/// Lines longer than this are broken where the formatter knows how (lists).
const MAX_WIDTH: usize = 100;

/// Formats a parsed file; `text` is the source it was parsed from (for blank lines and comments).
pub fn format_file(file: &File, text: &str) -> String {
    let mut f = Formatter {
        text,
        comments: &file.comments,
        next: 0,
        out: String::new(),
        last_end: 0,
    };
    for extend in &file.extends {
        f.leading(extend.span.start, 0, false);
        f.line(0, &format!("extend {}", string(&extend.path.node)));
        f.last_end = extend.span.end;
        f.trailing();
    }
    let mut prev_block = false;
    for (i, item) in file.items.iter().enumerate() {
        let is_block = matches!(item, Item::Block(_));
        let force = (i == 0 && !file.extends.is_empty()) || (i > 0 && (is_block || prev_block));
        f.item(item, 0, force);
        prev_block = is_block;
    }
    f.leading(usize::MAX, 0, false);
    let mut out = f.out.trim_start_matches('\n').to_string();
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Formats one expression on one line.
pub fn format_expr(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr);
    out
}

struct Formatter<'a> {
    text: &'a str,
    comments: &'a [Comment],
    next: usize,
    out: String,
    last_end: usize,
}

impl Formatter<'_> {
    fn has_blank_line(&self, from: usize, to: usize) -> bool {
        let gap = self.text.get(from.min(to)..to).unwrap_or("");
        gap.matches('\n').count() >= 2
    }

    fn line(&mut self, indent: usize, text: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out.push_str(&"  ".repeat(indent));
        self.out.push_str(text);
    }

    /// Emits the comments that start before `upto`, on their own lines.
    fn leading(&mut self, upto: usize, indent: usize, mut blank: bool) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= upto {
                break;
            }
            if blank || self.has_blank_line(self.last_end, c.span.start) {
                self.blank();
            }
            blank = false;
            self.line(indent, &c.text);
            self.last_end = c.span.end;
            self.next += 1;
        }
        if blank {
            self.blank();
        }
    }

    /// Ends the output with one blank line (never two, never at the start).
    fn blank(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// Emits the comments inside an item (before `upto`) on their own lines above it.
    fn moved(&mut self, upto: usize, indent: usize) {
        while let Some(c) = self.comments.get(self.next).filter(|c| c.span.start < upto) {
            self.line(indent, &c.text);
            self.next += 1;
        }
    }

    /// Appends a comment that continues the line just written, if there is one.
    fn trailing(&mut self) {
        self.trailing_before(usize::MAX);
    }

    /// Like `trailing`, for a comment that starts before `limit`.
    fn trailing_before(&mut self, limit: usize) {
        if let Some(c) = self
            .comments
            .get(self.next)
            .filter(|c| c.span.start < limit)
        {
            let gap = self
                .text
                .get(self.last_end.min(c.span.start)..c.span.start)
                .unwrap_or("\n");
            if !gap.contains('\n') && c.span.start >= self.last_end {
                self.out.push_str("  ");
                self.out.push_str(&c.text);
                self.last_end = c.span.end;
                self.next += 1;
            }
        }
    }

    fn item(&mut self, item: &Item, indent: usize, force_blank: bool) {
        let start = item.span().start;
        let first = self
            .comments
            .get(self.next)
            .map_or(start, |c| c.span.start.min(start));
        let blank = force_blank || self.has_blank_line(self.last_end, first);
        self.leading(start, indent, blank);
        match item {
            Item::Assign(a) => {
                // Comments inside the value cannot stay inside a one-line value: move them above.
                self.moved(a.span.end, indent);
                let one_line = format!("{} = {}", a.key.dotted(), format_expr(&a.value));
                match &a.value.kind {
                    // A list too long for one line gets one element per line.
                    ExprKind::List(items)
                        if !items.is_empty()
                            && 2 * indent + one_line.chars().count() > MAX_WIDTH =>
                    {
                        self.line(indent, &format!("{} = [", a.key.dotted()));
                        for item in items {
                            self.line(indent + 1, &format!("{},", format_expr(item)));
                        }
                        self.line(indent, "]");
                    }
                    _ => self.line(indent, &one_line),
                }
                self.last_end = a.span.end;
                self.trailing();
            }
            Item::Block(b) => self.block(b, indent),
        }
    }

    fn block(&mut self, b: &Block, indent: usize) {
        let header = match &b.name {
            Some(name) => format!("{} {} {{", b.kind.node, name.node),
            None => format!("{} {{", b.kind.node),
        };
        self.line(indent, &header);
        self.last_end = b.header().end;
        let first = b.items.first().map_or(b.span.end, |i| i.span().start);
        self.trailing_before(first);
        let mut at_start = true;
        for item in &b.items {
            let start = item.span().start;
            if at_start {
                // No blank line right after `{`.
                let first = self
                    .comments
                    .get(self.next)
                    .map_or(start, |c| c.span.start.min(start));
                self.last_end = self.last_end.max(first.saturating_sub(1));
            }
            self.item(item, indent + 1, false);
            at_start = false;
        }
        let end = b.span.end.saturating_sub(1);
        if at_start {
            self.last_end = self.last_end.max(end);
        }
        self.leading(end, indent + 1, false);
        self.line(indent, "}");
        self.last_end = b.span.end;
        self.trailing();
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Int { text, .. }
        | ExprKind::Float { text, .. }
        | ExprKind::Size { text, .. }
        | ExprKind::Duration { text, .. } => out.push_str(text),
        ExprKind::Str(s) => out.push_str(&string(s)),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Path(p) => out.push_str(&p.dotted()),
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item);
            }
            out.push(']');
        }
        ExprKind::Map(entries) => {
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key.node);
                out.push_str(" = ");
                write_expr(out, value);
            }
            out.push_str(" }");
        }
        ExprKind::Call { name, args } => {
            out.push_str(&name.node);
            out.push('(');
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Some(n) = &arg.name {
                    out.push_str(&n.node);
                    out.push_str(" = ");
                }
                write_expr(out, &arg.value);
            }
            out.push(')');
        }
        ExprKind::Binary { op, lhs, rhs } => {
            write_expr(out, lhs);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_expr(out, rhs);
        }
        ExprKind::Neg(inner) => {
            out.push('-');
            write_expr(out, inner);
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            write_expr(out, inner);
            out.push(')');
        }
    }
}
