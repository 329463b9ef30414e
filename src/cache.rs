//! Where lpipe keeps downloaded models and content-addressed artifacts.

use std::path::PathBuf;

/// The cache root: `$LPIPE_CACHE_DIR`, else `.cache/` under the current directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("LPIPE_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(".cache"),
    }
}

/// The SmolLM2-135M-Instruct GGUF fetched by `scripts/fetch-model.sh`, if present.
pub fn smollm2_gguf() -> Option<PathBuf> {
    let path = cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    path.is_file().then_some(path)
}

/// `../shared` beside the project (tests and examples read data and golden files there).
pub fn shared_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    dir.join("data").is_dir().then_some(dir)
}
