//! HF `tokenizer.json` (BPE model) → [`BpeTokenizer`], without the `tokenizers` crate.
//!
//! Supported: BPE models (`byte_fallback`, `fuse_unk`, `ignore_merges`, string or pair merges),
//! normalizers Prepend/Replace/Strip/Lowercase, pre-tokenizers ByteLevel/Digits/Split/Metaspace/
//! Whitespace(Split), decoders ByteLevel/Metaspace/Replace/ByteFallback/Fuse/Strip, any of them in
//! `Sequence`s, added tokens, and BOS from a `TemplateProcessing` post-processor. Anything else is a
//! diagnostic, never a silently different tokenization.

use std::path::Path;

use serde_json::Value;

use super::bpe::decode::Decoder;
use super::bpe::normalize::Normalizer;
use super::bpe::pretokenize::{PreTokenizer, PrependScheme, SplitBehavior, SplitPattern};
use super::error::TokenizerError;
use super::special::AddedToken;
use super::{BpeConfig, BpeTokenizer, Tokenizer};

fn read(path: &Path) -> Result<String, TokenizerError> {
    std::fs::read_to_string(path).map_err(|source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a `tokenizer.json` file; a `tokenizer_config.json` beside it supplies BOS/EOS and
/// `add_bos_token`, as `AutoTokenizer` does.
pub fn from_file(path: &Path) -> Result<BpeTokenizer, TokenizerError> {
    let mut tok = from_str(&read(path)?).map_err(|e| name_json(e.at(path), path))?;
    let config = path.with_file_name("tokenizer_config.json");
    if config.is_file() {
        let value: Value =
            serde_json::from_str(&read(&config)?).map_err(|e| TokenizerError::Json {
                path: config.clone(),
                what: e.to_string(),
            })?;
        apply_config(&mut tok, &value);
    }
    Ok(tok)
}

/// `bos_token`/`eos_token` (strings or `{"content": …}`) and `add_bos_token` from a tokenizer config.
pub fn apply_config(tok: &mut BpeTokenizer, config: &Value) {
    let id = |key: &str| {
        let v = config.get(key)?;
        let name = v.as_str().or_else(|| v.get("content")?.as_str())?;
        tok.token_to_id(name)
    };
    let bos = id("bos_token").or(tok.bos_token());
    let eos = id("eos_token").or(tok.eos_id());
    let add_bos = config
        .get("add_bos_token")
        .and_then(Value::as_bool)
        .unwrap_or(tok.bos_id().is_some());
    tok.set_specials(bos, eos, add_bos);
}

fn name_json(e: TokenizerError, path: &Path) -> TokenizerError {
    match e {
        TokenizerError::Json { what, .. } => TokenizerError::Json {
            path: path.to_path_buf(),
            what,
        },
        other => other,
    }
}

fn json_err(what: impl Into<String>) -> TokenizerError {
    TokenizerError::Json {
        path: "<memory>".into(),
        what: what.into(),
    }
}

fn unsupported(what: impl Into<String>) -> TokenizerError {
    TokenizerError::Unsupported {
        path: "<memory>".into(),
        feature: what.into(),
    }
}

/// Parses the text of a `tokenizer.json`.
pub fn from_str(text: &str) -> Result<BpeTokenizer, TokenizerError> {
    let root: Value = serde_json::from_str(text).map_err(|e| json_err(e.to_string()))?;
    let model = root
        .get("model")
        .ok_or_else(|| json_err("no `model` object"))?;
    let kind = model.get("type").and_then(Value::as_str).unwrap_or("BPE");
    if kind != "BPE" {
        return Err(unsupported(format!("the `{kind}` model (only BPE)")));
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix", "dropout"] {
        if model.get(key).is_some_and(|v| !v.is_null()) {
            return Err(unsupported(format!("BPE `{key}`")));
        }
    }
    let vocab = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| json_err("`model.vocab` is not an object"))?;
    let mut tokens = vec![String::new(); vocab.len()];
    for (token, id) in vocab {
        let id = id
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < (1 << 24))
            .ok_or_else(|| {
                json_err(format!("vocabulary id of `{token}` is not a small integer"))
            })?;
        if id >= tokens.len() {
            tokens.resize(id + 1, String::new());
        }
        tokens[id] = token.clone();
    }
    let merges = parse_merges(model.get("merges"))?;
    let mut added_tokens = Vec::new();
    if let Some(list) = root.get("added_tokens").and_then(Value::as_array) {
        for t in list {
            let token: AddedToken = serde_json::from_value(t.clone())
                .map_err(|e| json_err(format!("added token {t}: {e}")))?;
            added_tokens.push(token);
        }
    }
    let find = |name: &str| -> Option<u32> {
        vocab
            .get(name)
            .and_then(Value::as_u64)
            .map(|i| i as u32)
            .or_else(|| {
                added_tokens
                    .iter()
                    .find(|t| t.content == name)
                    .map(|t| t.id)
            })
    };
    let unk = match model.get("unk_token").and_then(Value::as_str) {
        Some(name) => Some(
            find(name)
                .ok_or_else(|| json_err(format!("unk_token `{name}` is not in the vocabulary")))?,
        ),
        None => None,
    };
    let bos = template_bos(root.get("post_processor"));
    let flag = |key: &str| model.get(key).and_then(Value::as_bool).unwrap_or(false);
    BpeTokenizer::new(BpeConfig {
        tokens,
        token_types: Vec::new(),
        merges,
        normalizer: opt(root.get("normalizer"), normalizer)?,
        pre_tokenizer: opt(root.get("pre_tokenizer"), pre_tokenizer)?,
        decoder: opt(root.get("decoder"), decoder)?,
        unk,
        byte_fallback: flag("byte_fallback"),
        fuse_unk: flag("fuse_unk"),
        ignore_merges: flag("ignore_merges"),
        bos,
        eos: None,
        add_bos: bos.is_some(),
        added_tokens,
    })
}

fn opt<T>(
    v: Option<&Value>,
    f: fn(&Value) -> Result<T, TokenizerError>,
) -> Result<Option<T>, TokenizerError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => f(v).map(Some),
    }
}

fn parse_merges(v: Option<&Value>) -> Result<Vec<(String, String)>, TokenizerError> {
    let Some(list) = v.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| match m {
            Value::String(s) => {
                let mut parts = s.split(' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) => Ok((a.to_string(), b.to_string())),
                    _ => Err(json_err(format!(
                        "merge {i} `{s}` is not two tokens separated by one space"
                    ))),
                }
            }
            Value::Array(pair) => match pair.as_slice() {
                [Value::String(a), Value::String(b)] => Ok((a.clone(), b.clone())),
                _ => Err(json_err(format!("merge {i} is not a pair of strings"))),
            },
            _ => Err(json_err(format!(
                "merge {i} is neither a string nor a pair"
            ))),
        })
        .collect()
}

/// BOS from `TemplateProcessing`: a special token before `$A` in the single-sequence template.
fn template_bos(v: Option<&Value>) -> Option<u32> {
    let v = v?;
    let processors: Vec<&Value> = match v.get("type").and_then(Value::as_str) {
        Some("Sequence") => v.get("processors")?.as_array()?.iter().collect(),
        _ => vec![v],
    };
    let template = processors
        .into_iter()
        .find(|p| p.get("type").and_then(Value::as_str) == Some("TemplateProcessing"))?;
    let first = template.get("single")?.as_array()?.first()?;
    let name = first.get("SpecialToken")?.get("id")?.as_str()?;
    let ids = template
        .get("special_tokens")?
        .get(name)?
        .get("ids")?
        .as_array()?;
    ids.first()?.as_u64().map(|i| i as u32)
}

fn type_of(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, TokenizerError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| json_err(format!("`{}` lacks the string field `{key}`", type_of(v))))
}

fn list<T>(
    v: &Value,
    key: &str,
    f: fn(&Value) -> Result<T, TokenizerError>,
) -> Result<Vec<T>, TokenizerError> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| json_err(format!("`Sequence` lacks `{key}`")))?
        .iter()
        .map(f)
        .collect()
}

fn regex(pattern: &str) -> Result<fancy_regex::Regex, TokenizerError> {
    fancy_regex::Regex::new(pattern).map_err(|e| TokenizerError::Pattern {
        path: "<memory>".into(),
        what: format!("`{pattern}`: {e}"),
    })
}

/// `{"String": s}` or `{"Regex": r}`.
fn pattern(v: &Value) -> Result<SplitPattern, TokenizerError> {
    let p = v
        .get("pattern")
        .ok_or_else(|| json_err("missing `pattern`"))?;
    if let Some(s) = p.get("String").and_then(Value::as_str) {
        Ok(SplitPattern::Literal(s.to_string()))
    } else if let Some(r) = p.get("Regex").and_then(Value::as_str) {
        Ok(SplitPattern::Regex(regex(r)?))
    } else {
        Err(json_err(format!("pattern {p} is neither String nor Regex")))
    }
}

fn normalizer(v: &Value) -> Result<Normalizer, TokenizerError> {
    Ok(match type_of(v) {
        "Sequence" => Normalizer::Sequence(list(v, "normalizers", normalizer)?),
        "Prepend" => Normalizer::Prepend(str_field(v, "prepend")?.to_string()),
        "Replace" => {
            let content = str_field(v, "content")?.to_string();
            match pattern(v)? {
                SplitPattern::Literal(pattern) => Normalizer::Replace { pattern, content },
                SplitPattern::Regex(pattern) => Normalizer::ReplaceRegex { pattern, content },
            }
        }
        "Strip" => Normalizer::Strip {
            left: v.get("strip_left").and_then(Value::as_bool).unwrap_or(true),
            right: v
                .get("strip_right")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        },
        "Lowercase" => Normalizer::Lowercase,
        other => return Err(unsupported(format!("the `{other}` normalizer"))),
    })
}

fn prepend_scheme(v: &Value) -> PrependScheme {
    match v.get("prepend_scheme").and_then(Value::as_str) {
        Some("first") => PrependScheme::First,
        Some("never") => PrependScheme::Never,
        Some(_) => PrependScheme::Always,
        // Files from before `prepend_scheme` existed use `add_prefix_space`.
        None => match v.get("add_prefix_space").and_then(Value::as_bool) {
            Some(false) => PrependScheme::Never,
            _ => PrependScheme::Always,
        },
    }
}

fn replacement(v: &Value) -> Result<char, TokenizerError> {
    let s = str_field(v, "replacement")?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(json_err(format!(
            "Metaspace replacement `{s}` is not one character"
        ))),
    }
}

fn pre_tokenizer(v: &Value) -> Result<PreTokenizer, TokenizerError> {
    let flag = |key: &str, default: bool| v.get(key).and_then(Value::as_bool).unwrap_or(default);
    Ok(match type_of(v) {
        "Sequence" => PreTokenizer::Sequence(list(v, "pretokenizers", pre_tokenizer)?),
        "ByteLevel" => PreTokenizer::ByteLevel {
            add_prefix_space: flag("add_prefix_space", true),
            use_regex: flag("use_regex", true),
        },
        "Digits" => PreTokenizer::Digits {
            individual: flag("individual_digits", false),
        },
        "Split" => PreTokenizer::Split {
            pattern: pattern(v)?,
            behavior: match str_field(v, "behavior")? {
                "Removed" => SplitBehavior::Removed,
                "Isolated" => SplitBehavior::Isolated,
                "MergedWithPrevious" => SplitBehavior::MergedWithPrevious,
                "MergedWithNext" => SplitBehavior::MergedWithNext,
                "Contiguous" => SplitBehavior::Contiguous,
                other => return Err(json_err(format!("unknown split behavior `{other}`"))),
            },
            invert: flag("invert", false),
        },
        "Metaspace" => PreTokenizer::Metaspace {
            replacement: replacement(v)?,
            prepend_scheme: prepend_scheme(v),
            split: flag("split", true),
        },
        "WhitespaceSplit" => PreTokenizer::Split {
            pattern: SplitPattern::Regex(regex(r"\s+")?),
            behavior: SplitBehavior::Removed,
            invert: false,
        },
        "Whitespace" => PreTokenizer::Split {
            pattern: SplitPattern::Regex(regex(r"\w+|[^\w\s]+")?),
            behavior: SplitBehavior::Removed,
            invert: true,
        },
        other => return Err(unsupported(format!("the `{other}` pre-tokenizer"))),
    })
}

fn decoder(v: &Value) -> Result<Decoder, TokenizerError> {
    Ok(match type_of(v) {
        "Sequence" => Decoder::Sequence(list(v, "decoders", decoder)?),
        "ByteLevel" => Decoder::ByteLevel,
        "Metaspace" => Decoder::Metaspace {
            replacement: replacement(v)?,
            prepend_scheme: prepend_scheme(v),
        },
        "Replace" => match pattern(v)? {
            SplitPattern::Literal(pattern) => Decoder::Replace {
                pattern,
                content: str_field(v, "content")?.to_string(),
            },
            SplitPattern::Regex(_) => return Err(unsupported("a regex `Replace` decoder")),
        },
        "ByteFallback" => Decoder::ByteFallback,
        "Fuse" => Decoder::Fuse,
        "Strip" => {
            let content = str_field(v, "content")?;
            let count = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
            Decoder::Strip {
                content: content
                    .chars()
                    .next()
                    .ok_or_else(|| json_err("empty Strip content"))?,
                start: count("start"),
                stop: count("stop"),
            }
        }
        other => return Err(unsupported(format!("the `{other}` decoder"))),
    })
}
