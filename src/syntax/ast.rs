//! The tree as written: every node spanned, equality ignores spans.

use crate::span::{Span, Spanned};

/// A name as written.
pub type Ident = Spanned<String>;

/// A parsed file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// `extend "…"` lines, in order.
    pub extends: Vec<Extend>,
    /// Blocks and assignments, in order.
    pub items: Vec<Item>,
    /// Every comment, in source order (for `lpipe fmt`).
    pub comments: Vec<Comment>,
    /// The whole file.
    pub span: Span,
}

/// `extend "base.lpipe"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Extend {
    /// The path as written.
    pub path: Spanned<String>,
    /// The whole line.
    pub span: Span,
}

/// A comment (`#` or `//` to end of line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The text including its leading `#` or `//`.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// An entry of a file or block.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `kind [name] { … }`
    Block(Block),
    /// `key = value`
    Assign(Assign),
}

impl Item {
    /// The item's span.
    pub fn span(&self) -> Span {
        match self {
            Item::Block(b) => b.span,
            Item::Assign(a) => a.span,
        }
    }
}

/// A stage (or sweep sub-block): `lora { r = 8 }`, `eval before { … }`, `grid { … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The stage kind (`lora`, `grid`, …).
    pub kind: Ident,
    /// An optional name (`eval before`).
    pub name: Option<Ident>,
    /// The contents.
    pub items: Vec<Item>,
    /// The whole block.
    pub span: Span,
}

impl Block {
    /// The span of `kind [name]`, where "about this block" diagnostics point.
    pub fn header(&self) -> Span {
        match &self.name {
            Some(name) => self.kind.span.to(name.span),
            None => self.kind.span,
        }
    }
}

/// `key = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Assign {
    /// The (possibly dotted) key.
    pub key: Path,
    /// The value.
    pub value: Expr,
    /// The whole assignment.
    pub span: Span,
}

/// A dotted name: `lora.r`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The segments.
    pub segments: Vec<Ident>,
    /// The whole path.
    pub span: Span,
}

impl Path {
    /// The path as text: `lora.r`.
    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.node.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal (`text` keeps `50_000` as written).
    Int { value: i64, text: String },
    /// A float literal (`3e-4`).
    Float { value: f64, text: String },
    /// A string literal (escapes resolved).
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// A size in bytes (`24GiB`).
    Size { bytes: u64, text: String },
    /// A duration in seconds (`90s`, `2h`).
    Duration { seconds: f64, text: String },
    /// A name or dotted reference; a symbol (`cosine`) or a key (`lora.r`), decided by the checker.
    Path(Path),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{ k = v }`
    Map(Vec<(Ident, Expr)>),
    /// `name(args)`
    Call { name: Ident, args: Vec<Arg> },
    /// `a op b`
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `-a`
    Neg(Box<Expr>),
    /// `( a )`, kept so `fmt` writes it back.
    Paren(Box<Expr>),
}

/// A call argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The name for `name = value` arguments.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `then` (schedule phases)
    Then,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Then => "then",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Then => 1,
            BinOp::Add | BinOp::Sub => 2,
            BinOp::Mul | BinOp::Div => 3,
        }
    }
}
