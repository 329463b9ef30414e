//! Pre-tokenizers: how text is cut into words before BPE, with HF `tokenizers` semantics
//! (split behaviours, `Digits`, `ByteLevel`, `Metaspace`, `Split`, `Sequence`).

use std::borrow::Cow;

use crate::tokenizer::byte_level::split_gpt2;

/// Where a split pattern's matches go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitBehavior {
    /// Matches are dropped.
    Removed,
    /// Matches become words of their own.
    Isolated,
    /// A match joins the word before it.
    MergedWithPrevious,
    /// A match joins the word after it.
    MergedWithNext,
    /// Runs of matches become one word.
    Contiguous,
}

/// What a `Split` pre-tokenizer looks for.
#[derive(Debug, Clone)]
pub enum SplitPattern {
    /// A literal string.
    Literal(String),
    /// A regular expression (Oniguruma-like syntax via `fancy-regex`).
    Regex(fancy_regex::Regex),
}

/// When Metaspace prepends its replacement character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrependScheme {
    /// To every word that does not already start with it.
    Always,
    /// Only to text at the very start of the input.
    First,
    /// Never.
    Never,
}

/// A pre-tokenizer.
#[derive(Debug, Clone)]
pub enum PreTokenizer {
    /// GPT-2 byte-level: optional prefix space, then the GPT-2 pattern (bytes are mapped at merge time).
    ByteLevel {
        /// Prepend a space to words that lack one.
        add_prefix_space: bool,
        /// Split with the GPT-2 pattern.
        use_regex: bool,
    },
    /// Splits numbers out (each digit alone when `individual`).
    Digits {
        /// One word per digit rather than per run of digits.
        individual: bool,
    },
    /// Splits on a pattern.
    Split {
        /// The pattern.
        pattern: SplitPattern,
        /// Where matches go.
        behavior: SplitBehavior,
        /// Split on what does not match.
        invert: bool,
    },
    /// SentencePiece-style: spaces become `replacement`, optionally prepended and split on.
    Metaspace {
        /// Usually `▁`.
        replacement: char,
        /// When to prepend `replacement`.
        prepend_scheme: PrependScheme,
        /// Start a new word at each `replacement`.
        split: bool,
    },
    /// Applies each in order.
    Sequence(Vec<PreTokenizer>),
}

/// A word produced by pre-tokenization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    /// Its text.
    pub text: Cow<'a, str>,
    /// It begins the input text (Metaspace `first` prepends only there).
    pub at_start: bool,
}

/// (range, is_match) covering the whole text, in order.
type Marks = Vec<((usize, usize), bool)>;

impl PreTokenizer {
    /// True when words must be mapped to GPT-2 byte characters before BPE.
    pub fn is_byte_level(&self) -> bool {
        match self {
            PreTokenizer::ByteLevel { .. } => true,
            PreTokenizer::Sequence(v) => v.iter().any(PreTokenizer::is_byte_level),
            _ => false,
        }
    }

    /// Applies this pre-tokenizer to every word of `words`.
    pub(crate) fn apply<'a>(&self, words: Vec<Word<'a>>) -> Vec<Word<'a>> {
        match self {
            PreTokenizer::Sequence(steps) => steps.iter().fold(words, |w, step| step.apply(w)),
            _ => {
                let mut out = Vec::with_capacity(words.len() * 2);
                for w in words {
                    self.apply_one(w, &mut out);
                }
                out
            }
        }
    }

    fn apply_one<'a>(&self, word: Word<'a>, out: &mut Vec<Word<'a>>) {
        match self {
            PreTokenizer::Sequence(_) => out.extend(self.apply(vec![word])),
            PreTokenizer::ByteLevel {
                add_prefix_space,
                use_regex,
            } => {
                let word = if *add_prefix_space && !word.text.starts_with(' ') {
                    Word {
                        text: Cow::Owned(format!(" {}", word.text)),
                        at_start: word.at_start,
                    }
                } else {
                    word
                };
                if !use_regex {
                    out.push(word);
                    return;
                }
                let mut marks = Vec::new();
                let mut pos = 0;
                split_gpt2(&word.text, |s| {
                    marks.push(((pos, pos + s.len()), true));
                    pos += s.len();
                });
                emit(word, resolve(marks, SplitBehavior::Isolated), out);
            }
            PreTokenizer::Digits { individual } => {
                let marks = char_marks(&word.text, |c| c.is_numeric());
                let behavior = if *individual {
                    SplitBehavior::Isolated
                } else {
                    SplitBehavior::Contiguous
                };
                emit(word, resolve(marks, behavior), out);
            }
            PreTokenizer::Split {
                pattern,
                behavior,
                invert,
            } => {
                let mut marks = pattern_marks(&word.text, pattern);
                if *invert {
                    marks.iter_mut().for_each(|m| m.1 = !m.1);
                }
                emit(word, resolve(marks, *behavior), out);
            }
            PreTokenizer::Metaspace {
                replacement,
                prepend_scheme,
                split,
            } => {
                let mut text: String = word
                    .text
                    .chars()
                    .map(|c| if c == ' ' { *replacement } else { c })
                    .collect();
                let prepend = match prepend_scheme {
                    PrependScheme::Always => true,
                    PrependScheme::First => word.at_start,
                    PrependScheme::Never => false,
                };
                if prepend && !text.starts_with(*replacement) {
                    text.insert(0, *replacement);
                }
                let word = Word {
                    text: Cow::Owned(text),
                    at_start: word.at_start,
                };
                if !split {
                    out.push(word);
                    return;
                }
                let r = *replacement;
                let marks = char_marks(&word.text, |c| c == r);
                emit(word, resolve(marks, SplitBehavior::MergedWithNext), out);
            }
        }
    }
}

/// Marks each character matching `pred` as a one-character match (HF's `Fn(char) -> bool` pattern).
fn char_marks(text: &str, pred: impl Fn(char) -> bool) -> Marks {
    let mut marks = Vec::new();
    let mut last = 0;
    for (i, c) in text.char_indices() {
        if pred(c) {
            if last < i {
                marks.push(((last, i), false));
            }
            marks.push(((i, i + c.len_utf8()), true));
            last = i + c.len_utf8();
        }
    }
    if last < text.len() {
        marks.push(((last, text.len()), false));
    }
    marks
}

fn pattern_marks(text: &str, pattern: &SplitPattern) -> Marks {
    let mut ranges = Vec::new();
    match pattern {
        SplitPattern::Literal(lit) if !lit.is_empty() => {
            ranges.extend(
                text.match_indices(lit.as_str())
                    .map(|(i, m)| (i, i + m.len())),
            );
        }
        SplitPattern::Literal(_) => {}
        SplitPattern::Regex(re) => {
            // A match that errors (backtrack limit) ends the scan; the rest stays one word.
            ranges.extend(
                re.find_iter(text)
                    .map_while(Result::ok)
                    .map(|m| (m.start(), m.end())),
            );
        }
    }
    let mut marks = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut prev = 0;
    for (start, end) in ranges {
        if prev < start {
            marks.push(((prev, start), false));
        }
        marks.push(((start, end), true));
        prev = end;
    }
    if prev < text.len() {
        marks.push(((prev, text.len()), false));
    }
    marks
}

/// Applies a split behaviour (HF `NormalizedString::split`); returns the ranges to keep.
fn resolve(marks: Marks, behavior: SplitBehavior) -> Vec<(usize, usize)> {
    let mut acc: Vec<((usize, usize), bool)> = Vec::with_capacity(marks.len());
    match behavior {
        SplitBehavior::Isolated => acc = marks.into_iter().map(|(r, _)| (r, false)).collect(),
        SplitBehavior::Removed => acc = marks,
        SplitBehavior::MergedWithPrevious => {
            let mut previous_match = false;
            for (r, is_match) in marks {
                match acc.last_mut() {
                    Some(last) if is_match && !previous_match => last.0.1 = r.1,
                    _ => acc.push((r, false)),
                }
                previous_match = is_match;
            }
        }
        SplitBehavior::MergedWithNext => {
            let mut previous_match = false;
            for (r, is_match) in marks.into_iter().rev() {
                match acc.last_mut() {
                    Some(last) if is_match && !previous_match => last.0.0 = r.0,
                    _ => acc.push((r, false)),
                }
                previous_match = is_match;
            }
            acc.reverse();
        }
        SplitBehavior::Contiguous => {
            let mut previous_match = false;
            for (r, is_match) in marks {
                match acc.last_mut() {
                    Some(last) if is_match == previous_match => last.0.1 = r.1,
                    _ => acc.push((r, false)),
                }
                previous_match = is_match;
            }
        }
    }
    acc.into_iter()
        .filter(|&((s, e), removed)| !removed && s < e)
        .map(|(r, _)| r)
        .collect()
}

fn emit<'a>(word: Word<'a>, ranges: Vec<(usize, usize)>, out: &mut Vec<Word<'a>>) {
    for (start, end) in ranges {
        let text = match &word.text {
            Cow::Borrowed(s) => Cow::Borrowed(&s[start..end]),
            Cow::Owned(s) => Cow::Owned(s[start..end].to_string()),
        };
        out.push(Word {
            text,
            at_start: word.at_start && start == 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pre: &PreTokenizer, text: &str) -> Vec<String> {
        let words = vec![Word {
            text: Cow::Borrowed(text),
            at_start: true,
        }];
        pre.apply(words)
            .into_iter()
            .map(|w| w.text.into_owned())
            .collect()
    }

    #[test]
    fn smollm2_digits_then_byte_level() {
        let pre = PreTokenizer::Sequence(vec![
            PreTokenizer::Digits { individual: true },
            PreTokenizer::ByteLevel {
                add_prefix_space: false,
                use_regex: true,
            },
        ]);
        assert_eq!(
            run(&pre, "x  =  42\n\n  y"),
            ["x", " ", " =", "  ", "4", "2", "\n\n ", " y"]
        );
    }

    #[test]
    fn split_behaviours_follow_hf() {
        let split = |behavior| PreTokenizer::Split {
            pattern: SplitPattern::Literal("-".into()),
            behavior,
            invert: false,
        };
        let text = "a-b--c";
        assert_eq!(run(&split(SplitBehavior::Removed), text), ["a", "b", "c"]);
        assert_eq!(
            run(&split(SplitBehavior::Isolated), text),
            ["a", "-", "b", "-", "-", "c"]
        );
        assert_eq!(
            run(&split(SplitBehavior::MergedWithPrevious), text),
            ["a-", "b-", "-", "c"]
        );
        assert_eq!(
            run(&split(SplitBehavior::MergedWithNext), text),
            ["a", "-b", "-", "-c"]
        );
        assert_eq!(
            run(&split(SplitBehavior::Contiguous), text),
            ["a", "-", "b", "--", "c"]
        );
        let digits = PreTokenizer::Digits { individual: false };
        assert_eq!(run(&digits, "ab123c4"), ["ab", "123", "c", "4"]);
    }

    #[test]
    fn metaspace_replaces_prepends_and_splits() {
        let pre = PreTokenizer::Metaspace {
            replacement: '▁',
            prepend_scheme: PrependScheme::First,
            split: true,
        };
        assert_eq!(run(&pre, "Hey  you"), ["▁Hey", "▁", "▁you"]);
        assert_eq!(run(&pre, " x"), ["▁x"]);
    }
}
