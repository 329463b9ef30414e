//! Every key docs/language.md documents is read by the code that runs it — or refused with a
//! diagnostic — so that no key is accepted by the checker and then ignored.
//!
//! The test reads the key tables of docs/language.md, requires each key to be classified below,
//! and looks for a read of its IR field (`.field`) outside the checker, the IR and the syntax:
//! in the executor and the domain code for run-time keys, in the planner for plan-only keys.
//! Removing a key's only reader (say `train.log_interval` in src/exec/run.rs) fails it.

use std::path::{Path, PathBuf};

/// Where a key takes effect.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Effect {
    /// Read by `lpipe run` (src/ outside check/, ir/, syntax/, plan/).
    Run,
    /// Read by `lpipe plan` only (src/plan/).
    Plan,
    /// Refused by the checker with E121 until implemented.
    Refused,
}

/// (section, key) → (IR field, effect). Sections are the docs' headings: `top`, or a stage.
const KEYS: &[(&str, &str, &str, Effect)] = &[
    ("top", "name", "name", Effect::Run),
    ("top", "description", "description", Effect::Plan),
    ("top", "runs_dir", "runs_dir", Effect::Run),
    ("dataset", "source", "source", Effect::Run),
    ("dataset", "template", "template", Effect::Run),
    ("dataset", "max_seq_len", "max_seq_len", Effect::Run),
    ("dataset", "mask_prompt", "mask_prompt", Effect::Run),
    ("dataset", "val_split", "val_split", Effect::Run),
    ("dataset", "seed", "seed", Effect::Run),
    ("dataset", "limit", "limit", Effect::Run),
    ("model", "source", "source", Effect::Run),
    ("model", "arch", "arch", Effect::Plan),
    ("model", "precision", "precision", Effect::Run),
    ("model", "device", "device", Effect::Run),
    ("model", "device_memory", "device_memory", Effect::Plan),
    ("model", "tokenizer", "tokenizer", Effect::Run),
    ("quantize", "type", "kind", Effect::Run),
    ("quantize", "double_quant", "double_quant", Effect::Run),
    ("quantize", "block_size", "block_size", Effect::Run),
    ("quantize", "modules", "modules", Effect::Run),
    ("lora", "targets", "targets", Effect::Run),
    ("lora", "r", "r", Effect::Run),
    ("lora", "alpha", "alpha", Effect::Run),
    ("lora", "dropout", "dropout", Effect::Run),
    ("lora", "rslora", "rslora", Effect::Run),
    ("lora", "init", "init", Effect::Run),
    ("train", "optimizer", "optimizer", Effect::Run),
    ("train", "schedule", "schedule", Effect::Run),
    ("train", "batch_size", "batch_size", Effect::Run),
    ("train", "micro_batch_size", "micro_batch_size", Effect::Run),
    ("train", "max_iters", "length", Effect::Run),
    ("train", "epochs", "length", Effect::Run),
    ("train", "grad_clip", "grad_clip", Effect::Run),
    ("train", "precision", "precision", Effect::Run),
    ("train", "seed", "seed", Effect::Run),
    ("train", "eval_interval", "eval_interval", Effect::Run),
    ("train", "eval_iters", "eval_iters", Effect::Run),
    (
        "train",
        "checkpoint_interval",
        "checkpoint_interval",
        Effect::Run,
    ),
    ("train", "log_interval", "log_interval", Effect::Run),
    (
        "train",
        "activation_checkpointing",
        "activation_checkpointing",
        Effect::Refused,
    ),
    ("train", "max_time", "max_time", Effect::Run),
    ("train", "tensorboard", "tensorboard", Effect::Run),
    ("eval", "tasks", "tasks", Effect::Run),
    ("eval", "on", "on", Effect::Run),
    ("eval", "limit", "limit", Effect::Run),
    ("eval", "seed", "seed", Effect::Run),
    ("eval", "batch_size", "batch_size", Effect::Run),
    ("eval", "data_dir", "data_dir", Effect::Run),
    ("export", "path", "path", Effect::Run),
    ("export", "merge", "merge", Effect::Run),
    ("report", "formats", "formats", Effect::Run),
    ("report", "plot", "plot", Effect::Run),
];

/// (section, key) pairs of docs/language.md's tables, from `## Top level` to `## Sweeps`.
fn documented() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("docs/language.md").unwrap();
    let start = text.find("## Top level").expect("a `## Top level` section");
    let end = text.find("## Sweeps").expect("a `## Sweeps` section");
    let mut section = "top".to_string();
    let mut keys = Vec::new();
    for line in text[start..end].lines() {
        if let Some(h) = line.strip_prefix("### `") {
            // "### `eval [name]`" → eval
            section = h.split(['`', ' ']).next().unwrap_or_default().to_string();
        } else if let Some(row) = line.strip_prefix("| `") {
            let key = row.split('`').next().unwrap_or_default();
            keys.push((section.clone(), key.to_string()));
        }
    }
    keys
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `text` reads `.field` (followed by a non-identifier character).
fn reads(text: &str, field: &str) -> bool {
    let needle = format!(".{field}");
    text.match_indices(&needle).any(|(i, _)| {
        let next = text[i + needle.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The source files where a key of `effect` must be read, without `#[cfg(test)]` modules'
/// own files (tests.rs) so that a test alone cannot count as a reader.
fn readers(effect: Effect) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy().replace('\\', "/");
            let excluded = ["src/check/", "src/ir/", "src/syntax/", "src/diag.rs"]
                .iter()
                .any(|x| s.starts_with(x))
                || s.ends_with("/tests.rs");
            match effect {
                Effect::Run => !excluded && !s.starts_with("src/plan/"),
                Effect::Plan => s.starts_with("src/plan/"),
                Effect::Refused => s.starts_with("src/check/"),
            }
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            // Unit-test modules inline in a file do not count either, nor do comments (a doc
            // comment naming `train.tensorboard` once passed for its reader).
            let text = match text.find("#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let code: Vec<&str> = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect();
            (p, code.join("\n"))
        })
        .collect()
}

#[test]
fn every_documented_key_is_read_where_it_takes_effect() {
    let docs = documented();
    assert!(docs.len() > 40, "too few keys parsed: {docs:?}");
    let mut problems = Vec::new();
    for (section, key) in &docs {
        let Some(&(_, _, field, effect)) =
            KEYS.iter().find(|(s, k, _, _)| s == section && k == key)
        else {
            problems.push(format!(
                "{section}.{key}: documented but not classified in tests/it/language_keys.rs"
            ));
            continue;
        };
        let files = readers(effect);
        let found = match effect {
            Effect::Refused => files
                .iter()
                .any(|(_, t)| t.contains(&format!("\"{field}\"")) && t.contains("NotImplemented")),
            _ => files.iter().any(|(_, t)| reads(t, field)),
        };
        if !found {
            problems.push(format!(
                "{section}.{key}: no {effect:?} reader of `.{field}` (the checker accepts it, \
                 nothing uses it)"
            ));
        }
    }
    for (section, key, _, _) in KEYS {
        if !docs.iter().any(|(s, k)| s == section && k == key) {
            problems.push(format!("{section}.{key}: classified but not documented"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
