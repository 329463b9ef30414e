//! AST → canonical text for `lpipe fmt`: two-space indents, one item per line, `key = value`
//! spacing, a blank line around top-level blocks, at most one blank line kept elsewhere, and
//! every comment kept (a comment inside a one-line value moves to the line above it; in a list
//! broken over lines it stays above its element).

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
        let before = self.next;
        self.leading(start, indent, blank);
        let commented = self.next > before;
        match item {
            Item::Assign(a) => {
                // A blank line between an item's comments and the item itself is kept.
                if commented && self.has_blank_line(self.last_end, start) {
                    self.blank();
                }
                self.value(&format!("{} = ", a.key.dotted()), &a.value, indent, "");
                self.last_end = a.span.end;
                self.trailing();
            }
            Item::Block(b) => self.block(b, indent),
        }
    }

    /// Writes `prefix value suffix`, breaking lists (and calls holding lists) that do not fit.
    fn value(&mut self, prefix: &str, expr: &Expr, indent: usize, suffix: &str) {
        let one_line = format!("{prefix}{}{suffix}", format_expr(expr));
        if 2 * indent + one_line.chars().count() <= MAX_WIDTH || !breakable(expr) {
            // Comments inside a one-line value cannot stay inside it: move them above.
            self.moved(expr.span.end, indent);
            self.line(indent, &one_line);
            return;
        }
        match &expr.kind {
            ExprKind::List(items) => {
                self.line(indent, &format!("{prefix}["));
                for item in items {
                    self.moved(item.span.start, indent + 1);
                    self.value("", item, indent + 1, ",");
                }
                self.moved(expr.span.end, indent + 1);
                self.line(indent, &format!("]{suffix}"));
            }
            ExprKind::Call { name, args } => {
                self.line(indent, &format!("{prefix}{}(", name.node));
                for arg in args {
                    let key = arg
                        .name
                        .as_ref()
                        .map_or(String::new(), |n| format!("{} = ", n.node));
                    self.moved(arg.value.span.start, indent + 1);
                    self.value(&key, &arg.value, indent + 1, ",");
                }
                self.moved(expr.span.end, indent + 1);
                self.line(indent, &format!("){suffix}"));
            }
            _ => {
                self.moved(expr.span.end, indent);
                self.line(indent, &one_line);
            }
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

/// A value the formatter can spread over several lines: a non-empty list, or a call with a list inside.
fn breakable(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::List(items) => !items.is_empty(),
        ExprKind::Call { args, .. } => args.iter().any(|a| breakable(&a.value)),
        _ => false,
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

/// Renders a float compactly (`0.0003` → `3e-4`, `16.0` → `16`).
pub fn format_float(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else if f.abs() != 0.0 && f.abs() < 1e-3 {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}
