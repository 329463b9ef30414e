//! `lpipe bench tokenize`: Alpaca tokenization throughput of lpipe against sentencepiece and HF
//! `tokenizers`, measured in the same run (`scripts/reference/tokenize_bench.py`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::tokenizer::{self, Tokenizer, TokenizerError};

/// Settings of the tokenization benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Alpaca records to encode (from the start of `alpaca_data.json`).
    #[arg(long, default_value_t = 52002)]
    pub records: usize,
    /// Skip the Python reference.
    #[arg(long)]
    pub no_reference: bool,
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Implementation and tokenizer.
    pub name: String,
    /// Tokens produced (equal counts across implementations of one tokenizer show equal work).
    pub tokens: u64,
    /// Wall seconds, or why the row is missing.
    pub seconds: Result<f64, String>,
    /// Index of the reference row this one is compared with.
    pub reference: Option<usize>,
}

fn alpaca_text(r: &Value) -> String {
    let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
    let head = if field("input").is_empty() {
        format!(
            "Below is an instruction that describes a task. Write a response that appropriately \
             completes the request.\n\n### Instruction:\n{}\n\n### Response:\n",
            field("instruction")
        )
    } else {
        format!(
            "Below is an instruction that describes a task, paired with an input that provides \
             further context. Write a response that appropriately completes the request.\n\n\
             ### Instruction:\n{}\n\n### Input:\n{}\n\n### Response:\n",
            field("instruction"),
            field("input")
        )
    };
    head + field("output")
}

fn read_alpaca(shared: &Path, records: usize) -> Result<Vec<String>, TokenizerError> {
    let path = shared.join("data/alpaca/alpaca_data.json");
    let text = std::fs::read_to_string(&path).map_err(|source| TokenizerError::Io {
        path: path.clone(),
        source,
    })?;
    let data: Value = serde_json::from_str(&text).map_err(|e| TokenizerError::Json {
        path: path.clone(),
        what: e.to_string(),
    })?;
    let list = data.as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(list.iter().take(records).map(alpaca_text).collect())
}

fn time_lpipe(name: &str, tok: &dyn Tokenizer, texts: &[&str], rows: &mut Vec<Row>) {
    let t = Instant::now();
    let tokens: usize = texts.iter().map(|s| tok.encode(s, false).len()).sum();
    rows.push(Row {
        name: format!("lpipe {name} (1 thread)"),
        tokens: tokens as u64,
        seconds: Ok(t.elapsed().as_secs_f64()),
        reference: None,
    });
    let t = Instant::now();
    let tokens: usize = tok.encode_batch(texts, false).iter().map(Vec::len).sum();
    rows.push(Row {
        name: format!("lpipe {name} (encode_batch, all cores)"),
        tokens: tokens as u64,
        seconds: Ok(t.elapsed().as_secs_f64()),
        reference: None,
    });
}

fn python() -> String {
    if let Some(p) = std::env::var_os("LPIPE_PYTHON") {
        return p.to_string_lossy().into_owned();
    }
    let pyenv = Path::new("/work/pyenv/bin/python");
    if pyenv.is_file() {
        pyenv.display().to_string()
    } else {
        "python3".into()
    }
}

fn reference(shared: &Path, gguf: &Path, records: usize) -> Result<Value, String> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/tokenize_bench.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(shared)
        .arg(gguf)
        .arg(records.to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bad reference output: {e}"))
}

fn reference_row(v: &Value, key: &str, name: &str) -> Row {
    let entry = v.get(key);
    let seconds = match entry.and_then(|e| e.get("seconds")).and_then(Value::as_f64) {
        Some(s) => Ok(s),
        None => Err(entry
            .and_then(|e| e.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("not run")
            .to_string()),
    };
    Row {
        name: name.into(),
        tokens: entry
            .and_then(|e| e.get("tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
        seconds,
        reference: None,
    }
}

/// Runs the benchmark: lpipe rows followed by the reference each is compared with.
pub fn run(opts: &Options) -> Result<Vec<Row>, TokenizerError> {
    let shared = crate::cache::shared_dir().ok_or_else(|| TokenizerError::UnknownFormat {
        path: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        why: "the shared data directory (Alpaca, Llama 2 tokenizer) is missing".into(),
    })?;
    let texts = read_alpaca(&shared, opts.records)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let sp = tokenizer::load(&shared.join("data/llama2_tokenizer/tokenizer.model"))?;
    let gguf = crate::cache::smollm2_gguf();
    let reference = match (&gguf, opts.no_reference) {
        (Some(g), false) => Some(reference(&shared, g, refs.len())),
        _ => None,
    };
    let mut rows = Vec::new();
    time_lpipe("Llama 2 SentencePiece", sp.as_ref(), &refs, &mut rows);
    if let Some(r) = &reference {
        let row = match r {
            Ok(v) => reference_row(v, "sentencepiece", "sentencepiece (python, 1 thread)"),
            Err(e) => reference_row(&Value::Null, "", &format!("sentencepiece: {e}")),
        };
        rows[0].reference = Some(rows.len());
        rows[1].reference = Some(rows.len());
        rows.push(row);
    }
    if let Some(g) = &gguf {
        let bpe = tokenizer::load(g)?;
        let first = rows.len();
        time_lpipe("SmolLM2 byte-level BPE", bpe.as_ref(), &refs, &mut rows);
        if let Some(Ok(v)) = &reference {
            rows[first].reference = Some(rows.len());
            rows.push(reference_row(
                v,
                "tokenizers",
                "HF tokenizers (python, encode)",
            ));
            rows[first + 1].reference = Some(rows.len());
            rows.push(reference_row(
                v,
                "tokenizers_batch",
                "HF tokenizers (encode_batch, all cores)",
            ));
        }
    }
    Ok(rows)
}

/// Formats the rows as a table with speed-ups against the references.
pub fn table(rows: &[Row], records: usize) -> String {
    let mut out = format!(
        "Alpaca tokenization, {records} records (template prompt + output), this machine\n"
    );
    let _ = writeln!(
        out,
        "{:<54} {:>10} {:>9} {:>12} {:>9}",
        "implementation", "tokens", "seconds", "tokens/s", "speed-up"
    );
    for row in rows {
        match &row.seconds {
            Ok(s) => {
                let speedup = row
                    .reference
                    .and_then(|i| rows.get(i))
                    .and_then(|r| r.seconds.as_ref().ok())
                    .map_or(String::new(), |r| format!("{:.2}x", r / s));
                let _ = writeln!(
                    out,
                    "{:<54} {:>10} {:>9.3} {:>12.0} {:>9}",
                    row.name,
                    row.tokens,
                    s,
                    row.tokens as f64 / s,
                    speedup
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<54} unavailable: {e}", row.name);
            }
        }
    }
    out
}
