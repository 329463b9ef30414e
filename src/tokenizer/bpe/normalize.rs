//! Normalizers applied to each run of ordinary text before pre-tokenization (HF semantics).

use std::borrow::Cow;

/// A text normalizer.
#[derive(Debug, Clone)]
pub enum Normalizer {
    /// Prepends a string to non-empty text (Llama 2 HF: `▁`).
    Prepend(String),
    /// Replaces every occurrence of a literal.
    Replace {
        /// What to look for.
        pattern: String,
        /// What to put instead.
        content: String,
    },
    /// Replaces every match of a regular expression.
    ReplaceRegex {
        /// The expression.
        pattern: fancy_regex::Regex,
        /// What to put instead.
        content: String,
    },
    /// Strips whitespace at either end.
    Strip {
        /// Strip on the left.
        left: bool,
        /// Strip on the right.
        right: bool,
    },
    /// Lower-cases (Unicode).
    Lowercase,
    /// Applies each in order.
    Sequence(Vec<Normalizer>),
}

impl Normalizer {
    /// Normalizes `text`.
    pub(crate) fn apply<'a>(&self, text: Cow<'a, str>) -> Cow<'a, str> {
        match self {
            Normalizer::Prepend(p) if !text.is_empty() => Cow::Owned(format!("{p}{text}")),
            Normalizer::Prepend(_) => text,
            Normalizer::Replace { pattern, content } => {
                if pattern.is_empty() || !text.contains(pattern.as_str()) {
                    text
                } else {
                    Cow::Owned(text.replace(pattern.as_str(), content))
                }
            }
            Normalizer::ReplaceRegex { pattern, content } => {
                let mut out = String::with_capacity(text.len());
                let mut last = 0;
                for m in pattern.find_iter(&text).map_while(Result::ok) {
                    out.push_str(&text[last..m.start()]);
                    out.push_str(content);
                    last = m.end();
                }
                if last == 0 {
                    return text;
                }
                out.push_str(&text[last..]);
                Cow::Owned(out)
            }
            Normalizer::Strip { left, right } => {
                let mut s: &str = &text;
                if *left {
                    s = s.trim_start();
                }
                if *right {
                    s = s.trim_end();
                }
                if s.len() == text.len() {
                    text
                } else {
                    Cow::Owned(s.to_string())
                }
            }
            Normalizer::Lowercase => Cow::Owned(text.to_lowercase()),
            Normalizer::Sequence(steps) => steps.iter().fold(text, |t, n| n.apply(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama2_legacy_normalizer() {
        let n = Normalizer::Sequence(vec![
            Normalizer::Prepend("▁".into()),
            Normalizer::Replace {
                pattern: " ".into(),
                content: "▁".into(),
            },
        ]);
        assert_eq!(n.apply(Cow::Borrowed("Hi  there")), "▁Hi▁▁there");
        assert_eq!(n.apply(Cow::Borrowed("")), "");
    }
}
