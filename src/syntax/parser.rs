//! pest pairs → typed AST, one function per grammar rule (`grammar/lpipe.pest`).

use std::cell::RefCell;
use std::sync::LazyLock;

use pest::Parser as _;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use crate::diag::{LangDiagnostic, suggest};
use crate::source::SourceFile;
use crate::span::{FileId, Span, Spanned};
use crate::syntax::ast::{
    Arg, Assign, BinOp, Block, Comment, Expr, ExprKind, Extend, File, Ident, Item, Path,
};
use crate::syntax::error::{recover, syntax_error};

pub use crate::syntax::grammar::{LpipeGrammar, Rule};

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::then, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
});

/// Size units and their factors in bytes.
pub const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// Duration units and their factors in seconds.
pub const DURATION_UNITS: [(&str, f64); 5] = [
    ("ms", 0.001),
    ("s", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

/// Parses a whole file; on failure returns every diagnostic found.
pub fn parse_file(source: &SourceFile, id: FileId) -> Result<File, Vec<LangDiagnostic>> {
    let text = source.text.clone();
    let pairs = LpipeGrammar::parse(Rule::file, &text).map_err(|e| recover(e, source))?;
    let p = Parse::new(source, id);
    let file = pairs.into_iter().next().map(|pair| p.file(pair));
    p.finish(file)
}

/// Parses a `--set key=value` argument (the source is the argument text).
pub fn parse_set(source: &SourceFile, id: FileId) -> Result<Assign, Vec<LangDiagnostic>> {
    let text = source.text.clone();
    let pairs =
        LpipeGrammar::parse(Rule::set_arg, &text).map_err(|e| vec![syntax_error(&e, source, 0)])?;
    let p = Parse::new(source, id);
    let assign = pairs.into_iter().next().and_then(|pair| p.set_arg(pair));
    p.finish(assign)
}

/// Conversion state: the file being converted and the diagnostics found so far.
struct Parse<'s> {
    source: &'s SourceFile,
    id: FileId,
    errors: RefCell<Vec<LangDiagnostic>>,
}

/// Children of a pair without the comments pest interleaves.
fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT)
}

impl<'s> Parse<'s> {
    fn new(source: &'s SourceFile, id: FileId) -> Parse<'s> {
        Parse {
            source,
            id,
            errors: RefCell::new(Vec::new()),
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<LangDiagnostic>> {
        let fallback = self.internal(Span::new(self.id, 0, 0));
        let errors = self.errors.into_inner();
        match value {
            Some(v) if errors.is_empty() => Ok(v),
            _ if errors.is_empty() => Err(vec![fallback]),
            _ => Err(errors),
        }
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.id, s.start(), s.end())
    }

    fn push(&self, diag: LangDiagnostic) {
        self.errors.borrow_mut().push(diag);
    }

    /// A tree shape the grammar should make impossible; reported, never panicked on.
    fn internal(&self, span: Span) -> LangDiagnostic {
        LangDiagnostic::Syntax {
            expected: "valid syntax".into(),
            src: self.source.named(),
            span: span.into(),
            help: "the parser met an unexpected tree shape; please report this file".into(),
        }
    }

    /// `file = { SOI ~ extend* ~ item* ~ EOI }`
    fn file(&self, pair: Pair<'_, Rule>) -> File {
        let span = self.span(&pair);
        let comments = pair
            .clone()
            .into_inner()
            .flatten()
            .filter(|p| p.as_rule() == Rule::COMMENT)
            .map(|p| Comment {
                text: p.as_str().trim_end().to_string(),
                span: self.span(&p),
            })
            .collect();
        let mut extends = Vec::new();
        let mut items = Vec::new();
        for child in children(pair) {
            match child.as_rule() {
                Rule::extend => extends.extend(self.extend(child)),
                Rule::block | Rule::assign => items.extend(self.item(child)),
                _ => {}
            }
        }
        File {
            extends,
            items,
            comments,
            span,
        }
    }

    /// `extend = { "extend" ~ string }`
    fn extend(&self, pair: Pair<'_, Rule>) -> Option<Extend> {
        let span = self.span(&pair);
        let string = children(pair).next()?;
        let path_span = self.span(&string);
        Some(Extend {
            path: Spanned::new(self.string(string)?, path_span),
            span,
        })
    }

    /// `item = _{ block | assign }`
    fn item(&self, pair: Pair<'_, Rule>) -> Option<Item> {
        match pair.as_rule() {
            Rule::block => self.block(pair).map(Item::Block),
            Rule::assign => self.assign(pair).map(Item::Assign),
            _ => None,
        }
    }

    /// `block = { ident ~ ident? ~ "{" ~ item* ~ "}" }`
    fn block(&self, pair: Pair<'_, Rule>) -> Option<Block> {
        let span = self.span(&pair);
        let mut kind = None;
        let mut name = None;
        let mut items = Vec::new();
        for child in children(pair) {
            match child.as_rule() {
                Rule::ident if kind.is_none() => kind = Some(self.ident(child)),
                Rule::ident => name = Some(self.ident(child)),
                _ => items.extend(self.item(child)),
            }
        }
        Some(Block {
            kind: kind?,
            name,
            items,
            span,
        })
    }

    /// `assign = { path ~ "=" ~ expr }`
    fn assign(&self, pair: Pair<'_, Rule>) -> Option<Assign> {
        let mut it = children(pair);
        let key = self.path(it.next()?);
        let value = self.expr(it.next()?)?;
        // pest's span of a repetition includes the whitespace and comments skipped after it.
        let span = key.span.to(value.span);
        Some(Assign { key, value, span })
    }

    /// `set_arg = { SOI ~ path ~ "=" ~ expr ~ EOI }`
    fn set_arg(&self, pair: Pair<'_, Rule>) -> Option<Assign> {
        let mut it = children(pair);
        let key = self.path(it.next()?);
        let value = self.expr(it.next()?)?;
        // pest's span of a repetition includes the whitespace and comments skipped after it.
        let span = key.span.to(value.span);
        Some(Assign { key, value, span })
    }

    /// `path = ${ ident ~ ("." ~ ident)* }`
    fn path(&self, pair: Pair<'_, Rule>) -> Path {
        let span = self.span(&pair);
        let segments = children(pair).map(|p| self.ident(p)).collect();
        Path { segments, span }
    }

    /// `ident = @{ … }`
    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Spanned::new(pair.as_str().to_string(), self.span(&pair))
    }

    /// `expr = { prefix* ~ primary ~ (infix ~ prefix* ~ primary)* }`, by precedence climbing.
    fn expr(&self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let span = self.span(&pair);
        let inner: Vec<Pair<'_, Rule>> = children(pair).collect();
        let result = PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let rhs = rhs?;
                let span = self.span(&op).to(rhs.span);
                Some(Expr {
                    kind: ExprKind::Neg(Box::new(rhs)),
                    span,
                })
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let op = match op.as_rule() {
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    _ => BinOp::Then,
                };
                let span = lhs.span.to(rhs.span);
                Some(Expr {
                    kind: ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                    span,
                })
            })
            .parse(inner.into_iter());
        if result.is_none() && self.errors.borrow().is_empty() {
            self.push(self.internal(span));
        }
        result
    }

    /// `primary = _{ paren | quantity | number | string | boolean | list | map | call | path }`
    fn primary(&self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::paren => ExprKind::Paren(Box::new(self.paren(pair)?)),
            Rule::quantity => self.quantity(pair)?,
            Rule::number => self.number(pair)?,
            Rule::string => ExprKind::Str(self.string(pair)?),
            Rule::boolean => ExprKind::Bool(self.boolean(pair)),
            Rule::list => ExprKind::List(self.list(pair)?),
            Rule::map => ExprKind::Map(self.map(pair)?),
            Rule::call => self.call(pair)?,
            Rule::path => ExprKind::Path(self.path(pair)),
            _ => {
                self.push(self.internal(span));
                return None;
            }
        };
        Some(Expr { kind, span })
    }

    /// `paren = { "(" ~ expr ~ ")" }`
    fn paren(&self, pair: Pair<'_, Rule>) -> Option<Expr> {
        self.expr(children(pair).next()?)
    }

    /// `quantity = ${ number ~ unit }`
    fn quantity(&self, pair: Pair<'_, Rule>) -> Option<ExprKind> {
        let text = pair.as_str().to_string();
        let mut it = children(pair);
        let number = it.next()?;
        let unit_pair = it.next()?;
        let value = match self.number(number)? {
            ExprKind::Int { value, .. } => value as f64,
            ExprKind::Float { value, .. } => value,
            _ => return None,
        };
        let unit = self.unit(unit_pair.clone());
        if let Some((_, factor)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) {
            let bytes = value * *factor as f64;
            if !(0.0..1.8e19).contains(&bytes) {
                self.push(LangDiagnostic::InvalidNumber {
                    text,
                    src: self.source.named(),
                    span: self.span(&unit_pair).into(),
                    reason: "size does not fit in 64 bits".into(),
                });
                return None;
            }
            return Some(ExprKind::Size {
                bytes: bytes.round() as u64,
                text,
            });
        }
        if let Some((_, factor)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) {
            return Some(ExprKind::Duration {
                seconds: value * factor,
                text,
            });
        }
        let units: Vec<&str> = SIZE_UNITS
            .iter()
            .map(|u| u.0)
            .chain(DURATION_UNITS.iter().map(|u| u.0))
            .collect();
        // Case slips (`Gb`, `gib`) are the common mistake, so a case-insensitive match wins.
        let same_letters = units
            .iter()
            .copied()
            .find(|u| u.eq_ignore_ascii_case(&unit));
        let help = match same_letters.or_else(|| crate::diag::closest(&unit, units.iter().copied()))
        {
            Some(best) => format!("did you mean `{best}`? (write `2 * x` for a product)"),
            None => format!("{} (write `2 * x` for a product)", suggest(&unit, &units)),
        };
        self.push(LangDiagnostic::UnknownUnit {
            unit,
            src: self.source.named(),
            span: self.span(&unit_pair).into(),
            help,
        });
        None
    }

    /// `unit = @{ ASCII_ALPHA+ }`
    fn unit(&self, pair: Pair<'_, Rule>) -> String {
        pair.as_str().to_string()
    }

    /// `number = @{ … }`: integer unless it has a fraction or exponent.
    fn number(&self, pair: Pair<'_, Rule>) -> Option<ExprKind> {
        let text = pair.as_str().to_string();
        let clean: String = text.chars().filter(|c| *c != '_').collect();
        let is_float = clean.contains(['.', 'e', 'E']);
        let invalid = |reason: &str| LangDiagnostic::InvalidNumber {
            text: text.clone(),
            src: self.source.named(),
            span: self.span(&pair).into(),
            reason: reason.to_string(),
        };
        if is_float {
            match clean.parse::<f64>() {
                Ok(value) if value.is_finite() => Some(ExprKind::Float { value, text }),
                _ => {
                    self.push(invalid("too large for a 64-bit float"));
                    None
                }
            }
        } else {
            match clean.parse::<i64>() {
                Ok(value) => Some(ExprKind::Int { value, text }),
                Err(_) => {
                    self.push(invalid("does not fit in a 64-bit integer"));
                    None
                }
            }
        }
    }

    /// `string = ${ "\"" ~ string_text ~ "\"" }`: resolves escapes.
    fn string(&self, pair: Pair<'_, Rule>) -> Option<String> {
        let text_pair = children(pair).next()?;
        self.string_text(text_pair)
    }

    /// `string_text = @{ … }`
    fn string_text(&self, pair: Pair<'_, Rule>) -> Option<String> {
        let base = pair.as_span().start();
        let raw = pair.as_str();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices().peekable();
        let mut ok = true;
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let rest = &raw[i + 2..];
                    let decoded = rest
                        .strip_prefix('{')
                        .and_then(|r| r.split_once('}'))
                        .and_then(|(hex, _)| {
                            u32::from_str_radix(hex, 16).ok().map(|v| (hex.len(), v))
                        })
                        .and_then(|(len, v)| char::from_u32(v).map(|ch| (len, ch)));
                    match decoded {
                        Some((len, ch)) => {
                            out.push(ch);
                            for _ in 0..len + 2 {
                                chars.next();
                            }
                        }
                        None => {
                            ok = false;
                            self.bad_escape(base + i, base + i + 2, &raw[i..i + 2]);
                        }
                    }
                }
                other => {
                    ok = false;
                    let end = i + 1 + other.len_utf8();
                    self.bad_escape(base + i, base + end, &raw[i..end]);
                }
            }
        }
        ok.then_some(out)
    }

    fn bad_escape(&self, start: usize, end: usize, escape: &str) {
        self.push(LangDiagnostic::InvalidEscape {
            escape: escape.to_string(),
            src: self.source.named(),
            span: Span::new(self.id, start, end).into(),
        });
    }

    /// `boolean = @{ "true" | "false" }`
    fn boolean(&self, pair: Pair<'_, Rule>) -> bool {
        pair.as_str() == "true"
    }

    /// `list = { "[" ~ (expr ~ ("," ~ expr)* ~ ","?)? ~ "]" }`
    fn list(&self, pair: Pair<'_, Rule>) -> Option<Vec<Expr>> {
        let items: Vec<Option<Expr>> = children(pair).map(|p| self.expr(p)).collect();
        items.into_iter().collect()
    }

    /// `map = { "{" ~ (entry ~ ","?)* ~ "}" }`
    fn map(&self, pair: Pair<'_, Rule>) -> Option<Vec<(Ident, Expr)>> {
        let entries: Vec<Option<(Ident, Expr)>> = children(pair).map(|p| self.entry(p)).collect();
        entries.into_iter().collect()
    }

    /// `entry = { ident ~ "=" ~ expr }`
    fn entry(&self, pair: Pair<'_, Rule>) -> Option<(Ident, Expr)> {
        let mut it = children(pair);
        let key = self.ident(it.next()?);
        let value = self.expr(it.next()?)?;
        Some((key, value))
    }

    /// `call = { ident ~ "(" ~ (arg ~ ("," ~ arg)* ~ ","?)? ~ ")" }`
    fn call(&self, pair: Pair<'_, Rule>) -> Option<ExprKind> {
        let mut it = children(pair);
        let name = self.ident(it.next()?);
        let args: Vec<Option<Arg>> = it
            .map(|p| match p.as_rule() {
                Rule::named_arg => self.named_arg(p),
                _ => self.expr(p).map(|value| Arg { name: None, value }),
            })
            .collect();
        Some(ExprKind::Call {
            name,
            args: args.into_iter().collect::<Option<Vec<_>>>()?,
        })
    }

    /// `named_arg = { ident ~ "=" ~ expr }`
    fn named_arg(&self, pair: Pair<'_, Rule>) -> Option<Arg> {
        let mut it = children(pair);
        let name = self.ident(it.next()?);
        let value = self.expr(it.next()?)?;
        Some(Arg {
            name: Some(name),
            value,
        })
    }
}
