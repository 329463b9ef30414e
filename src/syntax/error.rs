//! pest errors → [`LangDiagnostic::Syntax`], with rules renamed to what a user would call them.

use pest::error::{Error, ErrorVariant, InputLocation};

use crate::diag::LangDiagnostic;
use crate::source::SourceFile;
use pest::Parser as _;

use crate::syntax::grammar::{LpipeGrammar, Rule};

/// What a user calls a grammar rule in "expected …".
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::extend => "`extend`",
        Rule::block => "a block",
        Rule::assign | Rule::entry | Rule::named_arg => "`key = value`",
        Rule::path | Rule::ident => "a name",
        Rule::expr
        | Rule::paren
        | Rule::quantity
        | Rule::number
        | Rule::string
        | Rule::boolean
        | Rule::list
        | Rule::map
        | Rule::call
        | Rule::neg => "a value",
        Rule::then | Rule::add | Rule::sub | Rule::mul | Rule::div => "an operator",
        Rule::unit => "a unit",
        Rule::string_text => "string text",
        _ => "valid syntax",
    }
}

/// Joins descriptions as "a, b or c".
fn join(items: &[&str]) -> String {
    match items {
        [] => "valid syntax".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The token found at a byte offset, for the help line.
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    match rest.chars().next() {
        None => "the end of the file".to_string(),
        Some('\n') | Some('\r') => "the end of the line".to_string(),
        Some(_) if !word.is_empty() => format!("`{word}`"),
        Some(c) => format!("`{c}`"),
    }
}

/// Converts a pest error into a syntax diagnostic listing the expected tokens.
/// `offset` is where in the file the parsed text started (after error recovery).
pub fn syntax_error(error: &Error<Rule>, source: &SourceFile, offset: usize) -> LangDiagnostic {
    let pos = offset
        + match error.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((start, _)) => start,
        };
    let mut expected: Vec<&str> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives
            .iter()
            .filter(|r| !matches!(r, Rule::COMMENT | Rule::WHITESPACE))
            .map(|r| describe(*r))
            .collect(),
        ErrorVariant::CustomError { .. } => vec![],
    };
    expected.sort_unstable();
    expected.dedup();
    // Closing brackets are literals, which pest does not report; name them when a block or list is open.
    let expected = join(&expected);
    let text: &str = &source.text;
    let len = text
        .get(pos..)
        .and_then(|r| r.chars().next())
        .map_or(0, |c| if c == '\n' { 0 } else { c.len_utf8() });
    let found = found_at(text, pos);
    let mut help = format!("found {found}");
    if found == "`}`" || found == "`]`" || found == "`)`" {
        help.push_str("; check that every `(`, `[` and `{` is closed in the right order");
    } else if expected.contains("end of file") {
        help.push_str("; a top-level entry is `kind [name] { … }` or `key = value`");
    }
    LangDiagnostic::Syntax {
        expected,
        src: source.named(),
        span: (pos, len).into(),
        help,
    }
}

/// The most syntax errors reported for one file.
const MAX_SYNTAX_ERRORS: usize = 10;

/// After a syntax error, resumes at each following top-level item (a line starting in column
/// 0 with a name) to report later syntax errors too, as a compiler would.
pub fn recover(first: pest::error::Error<Rule>, source: &SourceFile) -> Vec<LangDiagnostic> {
    let text: &str = &source.text;
    let mut errors = vec![syntax_error(&first, source, 0)];
    let mut at = error_pos(&first);
    while errors.len() < MAX_SYNTAX_ERRORS {
        let Some(resume) = next_item_start(text, at) else {
            break;
        };
        let Some(rest) = text.get(resume..) else {
            break;
        };
        match LpipeGrammar::parse(Rule::file, rest) {
            Ok(_) => break,
            Err(e) => {
                errors.push(syntax_error(&e, source, resume));
                at = resume + error_pos(&e);
            }
        }
    }
    errors
}

fn error_pos(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    }
}

/// The start of the first line after the line containing `pos` that begins with a name.
fn next_item_start(text: &str, pos: usize) -> Option<usize> {
    let mut offset = text.get(pos..)?.find('\n')? + pos + 1;
    loop {
        let line = text.get(offset..)?;
        if line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Some(offset);
        }
        offset += line.find('\n')? + 1;
    }
}
