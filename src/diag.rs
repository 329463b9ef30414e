//! The language's diagnostics: one variant per stable code `lpipe::E…`.
//!
//! E0xx are syntax errors found while parsing; E1xx are found by the checker (E15x are
//! warnings carrying the seed article's findings). Every variant has a label and a help line.

use std::sync::Arc;

use miette::{Diagnostic, NamedSource, Severity, SourceSpan};
use thiserror::Error;

/// The text a diagnostic points into.
pub type Src = NamedSource<Arc<str>>;

/// A problem found in a pipeline file.
#[derive(Clone, Debug, Error, Diagnostic)]
pub enum LangDiagnostic {
    /// The text does not follow the grammar.
    #[error("syntax error: expected {expected}")]
    #[diagnostic(code(lpipe::E001))]
    Syntax {
        /// What would have been accepted here.
        expected: String,
        #[source_code]
        src: Src,
        #[label("expected {expected}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A number literal that cannot be represented.
    #[error("invalid number `{text}`")]
    #[diagnostic(
        code(lpipe::E002),
        help("integers must fit in 64 bits; write a fraction as `0.5` or `5e-1`")
    )]
    InvalidNumber {
        /// The literal.
        text: String,
        #[source_code]
        src: Src,
        #[label("{reason}")]
        span: SourceSpan,
        /// Why it is invalid.
        reason: String,
    },

    /// An unknown `\` escape in a string.
    #[error("invalid escape `{escape}` in string")]
    #[diagnostic(
        code(lpipe::E003),
        help("valid escapes are \\\\, \\\", \\n, \\t, \\r and \\u{{hex}}")
    )]
    InvalidEscape {
        /// The escape as written.
        escape: String,
        #[source_code]
        src: Src,
        #[label("unknown escape")]
        span: SourceSpan,
    },

    /// A quantity with a unit that is neither a size nor a duration unit.
    #[error("unknown unit `{unit}`")]
    #[diagnostic(code(lpipe::E004))]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        #[source_code]
        src: Src,
        #[label("not a size or duration unit")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A file (given on the command line) cannot be read.
    #[error("cannot read `{path}`: {reason}")]
    #[diagnostic(
        code(lpipe::E100),
        help("check the path; pipeline files usually end in `.lpipe`")
    )]
    ReadFile {
        /// The path.
        path: String,
        /// The operating system's error.
        reason: String,
    },

    /// A block whose kind is not a stage.
    #[error("unknown stage `{kind}`")]
    #[diagnostic(code(lpipe::E101))]
    UnknownStage {
        /// The kind as written.
        kind: String,
        #[source_code]
        src: Src,
        #[label("not a stage kind")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A key that the stage (or call) does not have.
    #[error("unknown key `{key}` in {within}")]
    #[diagnostic(code(lpipe::E102))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Where it was written (`lora`, `adamw(…)`).
        within: String,
        #[source_code]
        src: Src,
        #[label("unknown key")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// The same stage written twice in one file.
    #[error("duplicate stage `{stage}`")]
    #[diagnostic(
        code(lpipe::E103),
        help(
            "merge the two blocks, or give `eval` blocks different names (`eval before {{ … }}`)"
        )
    )]
    DuplicateStage {
        /// The stage.
        stage: String,
        #[source_code]
        src: Src,
        #[label("defined again here")]
        span: SourceSpan,
        #[label("first defined here")]
        first: SourceSpan,
    },

    /// The same key written twice in one block.
    #[error("duplicate key `{key}`")]
    #[diagnostic(
        code(lpipe::E104),
        help("remove one of them; to change a key of an extended file, just assign it once")
    )]
    DuplicateKey {
        /// The key.
        key: String,
        #[source_code]
        src: Src,
        #[label("assigned again here")]
        span: SourceSpan,
        #[label("first assigned here")]
        first: SourceSpan,
    },

    /// A required key is missing.
    #[error("missing key `{key}` in `{stage}`")]
    #[diagnostic(code(lpipe::E105))]
    MissingKey {
        /// The key.
        key: String,
        /// The stage.
        stage: String,
        #[source_code]
        src: Src,
        #[label("`{key}` is required here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A value of the wrong type.
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(lpipe::E106))]
    WrongType {
        /// The type wanted.
        expected: String,
        /// The type given.
        found: String,
        #[source_code]
        src: Src,
        #[label("expected {expected}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A value outside its allowed range.
    #[error("`{key}` = {value} is out of range")]
    #[diagnostic(code(lpipe::E107))]
    OutOfRange {
        /// The key.
        key: String,
        /// The value.
        value: String,
        #[source_code]
        src: Src,
        #[label("must be {range}")]
        span: SourceSpan,
        /// The allowed range in words.
        range: String,
        #[help]
        help: String,
    },

    /// A name that is not one of the allowed choices.
    #[error("unknown {what} `{value}`")]
    #[diagnostic(code(lpipe::E108))]
    UnknownValue {
        /// What kind of name (`template`, `eval task`).
        what: String,
        /// The name.
        value: String,
        #[source_code]
        src: Src,
        #[label("not a known {what}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A reference to a key that does not exist.
    #[error("undefined reference `{name}`")]
    #[diagnostic(code(lpipe::E109))]
    UndefinedReference {
        /// The reference.
        name: String,
        #[source_code]
        src: Src,
        #[label("not defined")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// Keys, stages or files that depend on themselves.
    #[error("dependency cycle: {cycle}")]
    #[diagnostic(
        code(lpipe::E110),
        help(
            "break the cycle by giving one of these a literal value or removing an `after`/`extend`"
        )
    )]
    Cycle {
        /// The cycle, `a → b → a`.
        cycle: String,
        #[source_code]
        src: Src,
        #[label("{cycle}")]
        span: SourceSpan,
    },

    /// `batch_size` is not a multiple of `micro_batch_size`.
    #[error("`batch_size` ({batch}) is not divisible by `micro_batch_size` ({micro})")]
    #[diagnostic(code(lpipe::E111))]
    BatchNotDivisible {
        /// batch_size.
        batch: u64,
        /// micro_batch_size.
        micro: u64,
        #[source_code]
        src: Src,
        #[label("not a multiple of {micro}")]
        span: SourceSpan,
        #[label("micro-batch size")]
        micro_span: Option<SourceSpan>,
        #[help]
        help: String,
    },

    /// Warmup does not end before training does.
    #[error("warmup ({warmup} steps) is not shorter than training ({steps} optimizer steps)")]
    #[diagnostic(code(lpipe::E112))]
    WarmupTooLong {
        /// Warmup steps.
        warmup: u64,
        /// Optimizer steps in the run.
        steps: u64,
        #[source_code]
        src: Src,
        #[label("warmup of {warmup} steps")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// One point of a sweep is invalid.
    #[error("sweep point `{point}` is invalid")]
    #[diagnostic(
        code(lpipe::E113),
        help(
            "every point of a sweep must be a valid pipeline; narrow the values or add a constraint"
        )
    )]
    SweepPoint {
        /// The point (`lora.r = 2048, lora.alpha = 1`).
        point: String,
        #[source_code]
        src: Src,
        #[label("this point: {point}")]
        span: SourceSpan,
        /// What is wrong at that point.
        #[related]
        related: Vec<LangDiagnostic>,
    },

    /// `zip` lists of different lengths.
    #[error("`zip` lists have different lengths ({expected} and {found})")]
    #[diagnostic(
        code(lpipe::E114),
        help(
            "every list in a `zip` block pairs up element by element, so they must be equally long; use `grid` for all combinations"
        )
    )]
    ZipLength {
        /// Length of the first list.
        expected: usize,
        /// Length of this list.
        found: usize,
        #[source_code]
        src: Src,
        #[label("{found} values, but the first list has {expected}")]
        span: SourceSpan,
    },

    /// A stage needed by another is absent.
    #[error("missing stage `{stage}`, needed by `{needed_by}`")]
    #[diagnostic(code(lpipe::E115))]
    MissingStage {
        /// The absent stage.
        stage: String,
        /// The stage that needs it.
        needed_by: String,
        #[source_code]
        src: Src,
        #[label("`{needed_by}` needs a `{stage}` stage")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// An `extend` target that cannot be read.
    #[error("cannot extend `{path}`: {reason}")]
    #[diagnostic(
        code(lpipe::E116),
        help("`extend` paths are relative to the file that contains them")
    )]
    ExtendNotFound {
        /// The path.
        path: String,
        /// Why.
        reason: String,
        #[source_code]
        src: Src,
        #[label("cannot read this file")]
        span: SourceSpan,
    },

    /// A call with the wrong arguments.
    #[error("wrong arguments to `{call}`: {reason}")]
    #[diagnostic(code(lpipe::E117))]
    WrongArguments {
        /// The function.
        call: String,
        /// What is wrong.
        reason: String,
        #[source_code]
        src: Src,
        #[label("{reason}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// Arithmetic that cannot be computed.
    #[error("invalid operation: {reason}")]
    #[diagnostic(
        code(lpipe::E118),
        help(
            "arithmetic works on numbers (and sizes/durations with numbers); `then` joins schedule phases"
        )
    )]
    InvalidOperation {
        /// What is wrong.
        reason: String,
        #[source_code]
        src: Src,
        #[label("{reason}")]
        span: SourceSpan,
    },

    /// Two keys that exclude each other.
    #[error("`{first}` and `{second}` cannot both be set")]
    #[diagnostic(code(lpipe::E119))]
    Conflict {
        /// One key.
        first: String,
        /// The other.
        second: String,
        #[source_code]
        src: Src,
        #[label("`{second}` set here")]
        span: SourceSpan,
        #[label("`{first}` set here")]
        first_span: Option<SourceSpan>,
        #[help]
        help: String,
    },

    /// A custom prompt template that cannot be filled.
    #[error("invalid template: {reason}")]
    #[diagnostic(
        code(lpipe::E120),
        help(
            "templates use `{{instruction}}` (required), `{{input}}` (optional) and at most one `{{output}}` (where the response goes; after the whole template when absent); `{{{{`/`}}}}` write braces"
        )
    )]
    InvalidTemplate {
        /// What is wrong.
        reason: String,
        #[source_code]
        src: Src,
        #[label("{reason}")]
        span: SourceSpan,
    },

    /// A key the language defines whose behaviour lpipe does not implement yet.
    #[error("{what} is not implemented yet")]
    #[diagnostic(code(lpipe::E121))]
    NotImplemented {
        /// The key and value.
        what: String,
        #[source_code]
        src: Src,
        #[label("not implemented")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// alpha is not twice r.
    #[error("`alpha` ({alpha}) is not 2 × `r` ({r})")]
    #[diagnostic(
        code(lpipe::E150),
        severity(Warning),
        help(
            "in the seed's experiments alpha = 2·r did best at every rank; write `alpha = 2 * r`"
        )
    )]
    AlphaNotTwiceR {
        /// alpha.
        alpha: String,
        /// r.
        r: u64,
        #[source_code]
        src: Src,
        #[label("alpha/r = {ratio}")]
        span: SourceSpan,
        /// alpha / r.
        ratio: String,
    },

    /// A very large rank.
    #[error("rank `r` = {r} is very large")]
    #[diagnostic(
        code(lpipe::E151),
        severity(Warning),
        help(
            "ranks of 512, 1024 and 2048 did worse than r = 256 in the seed's experiments and cost far more memory"
        )
    )]
    LargeRank {
        /// r.
        r: u64,
        #[source_code]
        src: Src,
        #[label("r ≥ 512")]
        span: SourceSpan,
    },

    /// More than one pass over the data.
    #[error("training for {epochs} epochs")]
    #[diagnostic(
        code(lpipe::E152),
        severity(Warning),
        help(
            "in the seed's experiments iterating over the dataset more than once made results worse"
        )
    )]
    MultipleEpochs {
        /// Epochs.
        epochs: String,
        #[source_code]
        src: Src,
        #[label("more than one epoch")]
        span: SourceSpan,
    },

    /// SGD with a constant learning rate.
    #[error("`sgd` without a learning-rate schedule")]
    #[diagnostic(
        code(lpipe::E153),
        severity(Warning),
        help(
            "SGD needs a schedule to converge well; the seed used `schedule = warmup(100) then cosine`"
        )
    )]
    SgdConstant {
        #[source_code]
        src: Src,
        #[label("constant learning rate")]
        span: SourceSpan,
    },
}

impl LangDiagnostic {
    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        !matches!(
            self.severity(),
            Some(Severity::Warning) | Some(Severity::Advice)
        )
    }

    /// The stable code, e.g. `lpipe::E107`.
    pub fn code_str(&self) -> String {
        self.code().map(|c| c.to_string()).unwrap_or_default()
    }
}

/// Did-you-mean: the closest candidate to `word` by Jaro–Winkler similarity, if close enough.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A help line: "did you mean `x`?" when something is close, else the list of choices.
pub fn suggest(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            let shown: Vec<String> = candidates
                .iter()
                .take(12)
                .map(|c| format!("`{c}`"))
                .collect();
            let more = if candidates.len() > 12 { ", …" } else { "" };
            format!("expected one of {}{more}", shown.join(", "))
        }
    }
}

/// Renders a diagnostic as `lpipe` prints it: unicode, no colour, `width` columns.
pub fn render(diag: &dyn Diagnostic, width: usize) -> String {
    render_with(diag, miette::GraphicalTheme::unicode_nocolor(), width)
}

/// Renders a diagnostic with a given theme.
pub fn render_with(diag: &dyn Diagnostic, theme: miette::GraphicalTheme, width: usize) -> String {
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(width);
    let mut out = String::new();
    if handler.render_report(&mut out, diag).is_err() {
        out = format!("{diag}\n");
    }
    out
}

/// The error a failed `lpipe` process printed in its log: miette's `×` line (with its code line), else the last
/// line of its log, else how it exited.
pub fn error_of_log(log: &std::path::Path, exit: &str) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let raw: Vec<&str> = text.lines().collect();
    let lines: Vec<&str> = raw.iter().map(|l| l.trim()).collect();
    if let Some(at) = lines.iter().rposition(|l| l.starts_with("× ")) {
        // The code heads the diagnostic, a line or two above its message (warnings come earlier).
        let code = lines
            .get(at.saturating_sub(3)..at)
            .and_then(|above| above.iter().rev().find(|l| l.starts_with("lpipe::E")))
            .map(|c| format!("{c}: "))
            .unwrap_or_default();
        let mut msg = lines
            .get(at)
            .map_or("", |l| l.trim_start_matches("× "))
            .to_string();
        // miette wraps long messages onto indented lines; the source excerpt and help follow.
        for (line, trimmed) in raw.iter().zip(&lines).skip(at + 1) {
            let boxed = ["help:", "╭", "│", "·", "╰", "─"]
                .iter()
                .any(|b| trimmed.starts_with(b));
            if trimmed.is_empty() || boxed || !line.starts_with("    ") {
                break;
            }
            msg.push(' ');
            msg.push_str(trimmed);
        }
        return format!("{code}{msg}");
    }
    match lines.iter().rev().find(|l| !l.is_empty()) {
        Some(last) => format!("{last} ({exit})"),
        None => format!("process {exit}"),
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn the_error_line_of_a_failed_run_log() {
        let dir = std::env::temp_dir().join(format!("lpipe-jobs-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("run.log");
        std::fs::write(
            &log,
            "lpipe::E150\n\n  ⚠ a warning\nlpipe: model: loaded x\nlpipe::E801\n\n  × precision `bf16` is not\n    available\n  help: use f32\n",
        )
        .unwrap();
        assert_eq!(
            error_of_log(&log, "exit status: 1"),
            "lpipe::E801: precision `bf16` is not available"
        );
        std::fs::write(&log, "thread 'main' panicked\n").unwrap();
        assert_eq!(
            error_of_log(&log, "signal: 9"),
            "thread 'main' panicked (signal: 9)"
        );
        assert_eq!(
            error_of_log(&dir.join("none"), "signal: 9"),
            "process signal: 9"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
