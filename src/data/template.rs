//! Prompt templates: how a [`Record`] becomes the prompt text and the response text.
//!
//! Training sequences are `prompt + response` (+ EOS); with `mask_prompt` only the response
//! tokens carry a loss.

use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::record::Record;

/// The Stanford Alpaca / LitGPT `Alpaca` preamble for records with an input.
pub const ALPACA_WITH_INPUT: &str = "Below is an instruction that describes a task, paired with an input that provides \
further context. Write a response that appropriately completes the request.\n\n";
/// The Stanford Alpaca / LitGPT `Alpaca` preamble for records without an input.
pub const ALPACA_NO_INPUT: &str = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n";

/// A prompt template.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// Stanford Alpaca (as LitGPT's `Alpaca` prompt style), with- and no-input variants.
    Alpaca,
    /// ChatML turns (`<|im_start|>user … <|im_end|>`), as SmolLM2-Instruct and Qwen use.
    Chatml {
        /// A system turn placed first when set.
        system: Option<String>,
    },
    /// A template string with `{instruction}`, `{input}` and `{output}` placeholders.
    Custom(CustomTemplate),
}

impl Template {
    /// A built-in template by name (`alpaca`, `chatml`).
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "alpaca" => Some(Template::Alpaca),
            "chatml" => Some(Template::Chatml { system: None }),
            _ => None,
        }
    }

    /// A template as `--template` gives it: what a pipeline's `dataset.template` takes
    /// (`alpaca`, `chatml`, `chatml(system = "…")`, `custom("…"[, "…"])`, a template string),
    /// read with the pipeline grammar so that both accept the same spellings.
    pub fn from_spec(spec: &str) -> Result<Self, DataError> {
        if let Some(t) = Template::builtin(spec.trim()) {
            return Ok(t);
        }
        let bad = |message: String| DataError::Template {
            src: std::sync::Arc::new(miette::NamedSource::new("--template", spec.to_string())),
            span: (0, spec.len()).into(),
            message,
        };
        let call = ["chatml(", "custom("]
            .iter()
            .any(|c| spec.trim_start().starts_with(c));
        if !call {
            return match spec.contains('{') {
                true => CustomTemplate::new(spec, None).map(Template::Custom),
                false => Err(bad(format!(
                    "unknown template `{spec}` (alpaca, chatml, chatml(system = \"…\"), \
                     custom(\"…\") or a string with {{instruction}})"
                ))),
            };
        }
        use crate::ir::dataset::{CHATML_PARAMS, CUSTOM_PARAMS};
        use crate::syntax::call::{FlagValue, flag_value};
        let value = flag_value("--template", spec, |name| match name {
            "chatml" => Some(&CHATML_PARAMS[..]),
            "custom" => Some(&CUSTOM_PARAMS[..]),
            _ => None,
        })
        .map_err(bad)?;
        match value {
            FlagValue::Call { name, args } if name == "chatml" => Ok(Template::Chatml {
                system: args.into_iter().next().flatten(),
            }),
            FlagValue::Call { args, .. } => match args.as_slice() {
                [Some(text), no_input] => {
                    CustomTemplate::new(text, no_input.as_deref()).map(Template::Custom)
                }
                _ => Err(bad("`custom(…)` needs the template text".into())),
            },
            FlagValue::Str(_) => Err(bad("not a template".into())),
        }
    }

    /// The text the model is given.
    pub fn prompt(&self, record: &Record) -> String {
        match self {
            Template::Alpaca if record.input.is_empty() => format!(
                "{ALPACA_NO_INPUT}### Instruction:\n{}\n\n### Response:\n",
                record.instruction
            ),
            Template::Alpaca => format!(
                "{ALPACA_WITH_INPUT}### Instruction:\n{}\n\n### Input:\n{}\n\n### Response:\n",
                record.instruction, record.input
            ),
            Template::Chatml { system } => {
                let mut text = String::new();
                if let Some(system) = system {
                    text.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
                }
                let user = if record.input.is_empty() {
                    record.instruction.clone()
                } else {
                    format!("{}\n\n{}", record.instruction, record.input)
                };
                text.push_str(&format!(
                    "<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
                ));
                text
            }
            Template::Custom(custom) => custom.render(record).0,
        }
    }

    /// The text the model should produce after the prompt (EOS is added as a token, not text).
    pub fn response(&self, record: &Record) -> String {
        match self {
            Template::Alpaca | Template::Chatml { .. } => record.output.clone(),
            Template::Custom(custom) => custom.render(record).1,
        }
    }

    /// A stable description that changes whenever the rendered text could change (for cache keys).
    pub fn identity(&self) -> String {
        match self {
            Template::Alpaca => "alpaca-v1".into(),
            Template::Chatml { system } => format!("chatml-v1:{}", serde_json::json!(system)),
            Template::Custom(custom) => format!(
                "custom-v1:{}",
                serde_json::json!([custom.text, custom.no_input])
            ),
        }
    }
}

/// A piece of a parsed template string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Piece {
    Text(String),
    Instruction,
    Input,
    Output,
}

/// A user template such as `"Q: {instruction}\nA: {output}"`: the text before `{output}` is the
/// prompt, `{output}` and what follows is the response. Without `{output}` the response follows
/// the whole template.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "CustomTemplateText", into = "CustomTemplateText")]
pub struct CustomTemplate {
    text: String,
    no_input: Option<String>,
    pieces: Vec<Piece>,
    no_input_pieces: Option<Vec<Piece>>,
}

/// The serialized form of a [`CustomTemplate`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomTemplateText {
    /// The template.
    pub text: String,
    /// An optional variant used for records whose input is empty.
    pub no_input: Option<String>,
}

impl TryFrom<CustomTemplateText> for CustomTemplate {
    type Error = String;
    fn try_from(t: CustomTemplateText) -> Result<Self, String> {
        CustomTemplate::new(&t.text, t.no_input.as_deref()).map_err(|e| e.to_string())
    }
}

impl From<CustomTemplate> for CustomTemplateText {
    fn from(t: CustomTemplate) -> Self {
        CustomTemplateText {
            text: t.text,
            no_input: t.no_input,
        }
    }
}

impl CustomTemplate {
    /// Parses `text` (and the optional no-input variant); spans in errors point into the string at fault.
    pub fn new(text: &str, no_input: Option<&str>) -> Result<Self, DataError> {
        Ok(CustomTemplate {
            text: text.to_string(),
            no_input: no_input.map(str::to_string),
            pieces: parse(text)?,
            no_input_pieces: no_input.map(parse).transpose()?,
        })
    }

    /// The template text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn render(&self, record: &Record) -> (String, String) {
        let pieces = match (&self.no_input_pieces, record.input.is_empty()) {
            (Some(pieces), true) => pieces,
            _ => &self.pieces,
        };
        let (mut prompt, mut response) = (String::new(), String::new());
        let mut target = &mut prompt;
        for piece in pieces {
            match piece {
                Piece::Text(t) => target.push_str(t),
                Piece::Instruction => target.push_str(&record.instruction),
                Piece::Input => target.push_str(&record.input),
                Piece::Output => {
                    target = &mut response;
                    target.push_str(&record.output);
                }
            }
        }
        (prompt, response)
    }
}

const PLACEHOLDERS: [&str; 3] = ["instruction", "input", "output"];

fn parse(text: &str) -> Result<Vec<Piece>, DataError> {
    let err = |message: String, at: usize, len: usize| {
        // Keep the label inside the text so miette can always render it.
        let at = at.min(text.len().saturating_sub(1));
        let len = len.max(1).min(text.len() - at);
        DataError::Template {
            message,
            src: std::sync::Arc::new(miette::NamedSource::new("template", text.to_string())),
            span: (at, len).into(),
        }
    };
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut outputs = 0;
    let mut has_instruction = false;
    let mut rest = text.char_indices().peekable();
    while let Some((i, c)) = rest.next() {
        match c {
            '{' if rest.peek().map(|p| p.1) == Some('{') => {
                rest.next();
                literal.push('{');
            }
            '}' if rest.peek().map(|p| p.1) == Some('}') => {
                rest.next();
                literal.push('}');
            }
            '}' => return Err(err("unmatched `}`".into(), i, 1)),
            '{' => {
                let Some(close) = text[i..].find('}') else {
                    return Err(err("unclosed `{`".into(), i, 1));
                };
                let name = &text[i + 1..i + close];
                let piece = match name {
                    "instruction" => Piece::Instruction,
                    "input" => Piece::Input,
                    "output" => Piece::Output,
                    _ => {
                        let best = PLACEHOLDERS
                            .iter()
                            .max_by(|a, b| {
                                strsim::jaro_winkler(name, a)
                                    .total_cmp(&strsim::jaro_winkler(name, b))
                            })
                            .filter(|p| strsim::jaro_winkler(name, p) > 0.7);
                        let hint =
                            best.map_or(String::new(), |p| format!(" (did you mean `{{{p}}}`?)"));
                        return Err(err(
                            format!("unknown placeholder `{{{name}}}`{hint}"),
                            i,
                            close + 1,
                        ));
                    }
                };
                if piece == Piece::Output {
                    outputs += 1;
                    if outputs > 1 {
                        return Err(err(
                            "`{output}` appears more than once".into(),
                            i,
                            close + 1,
                        ));
                    }
                }
                has_instruction |= piece == Piece::Instruction;
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
                while rest.peek().is_some_and(|p| p.0 <= i + close) {
                    rest.next();
                }
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    if outputs == 0 {
        // A prompt-only template (the `.lpipe` form `template = "…"`): the response follows it.
        pieces.push(Piece::Output);
    }
    if !has_instruction {
        return Err(err("no `{instruction}` placeholder".into(), 0, text.len()));
    }
    Ok(pieces)
}
