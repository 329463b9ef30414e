//! Test inputs kept outside the repository (`../shared`, the cached SmolLM2 GGUF, Slurm's
//! client): one rule for every test that needs them.
//!
//! An input that does not exist skips the calling test, and the skip is recorded so that the
//! run can count it (`scripts/test.sh` prints the count); with `LPIPE_REQUIRE_INPUTS=1` (CI) an
//! absent input fails the test instead, naming what is missing. An input that exists but cannot
//! be read is not a skip: the test goes on, and its own `unwrap` fails with the error.

use std::io::Write;
use std::path::PathBuf;

/// Set to `1` to turn every skip for an absent input into a failure.
pub const REQUIRE_ENV: &str = "LPIPE_REQUIRE_INPUTS";
/// A file that each skip appends one line to (`binary test: what is missing`).
pub const SKIP_LOG_ENV: &str = "LPIPE_SKIP_LOG";

/// Where the shared inputs are, when not `../shared` beside the repository.
pub const SHARED_ENV: &str = "LPIPE_SHARED_DIR";

/// `../shared` (or `$LPIPE_SHARED_DIR`) when both its `data/` and `golden/` folders exist.
pub fn shared() -> Option<PathBuf> {
    let dir = match std::env::var_os(SHARED_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    for sub in ["data", "golden"] {
        if !dir.join(sub).is_dir() {
            return absent(
                &format!("../shared/{sub}"),
                "the shared inputs sit beside the repo",
            );
        }
    }
    Some(dir)
}

/// The SmolLM2-135M-Instruct GGUF in the model cache.
pub fn smollm2() -> Option<PathBuf> {
    match crate::cache::smollm2_gguf() {
        Some(path) => Some(path),
        None => absent(
            "the SmolLM2-135M GGUF in the model cache",
            "scripts/fetch-model.sh fetches it",
        ),
    }
}

/// `Some(())` when `program` can be started (`--version` style probe by the caller's `args`).
pub fn tool(program: &str, args: &[&str]) -> Option<()> {
    match std::process::Command::new(program).args(args).output() {
        Ok(_) => Some(()),
        Err(_) => absent(
            &format!("the `{program}` command"),
            "scripts/setup.sh installs it as root",
        ),
    }
}

/// Records or fails an absent input, per [`REQUIRE_ENV`].
fn absent<T>(what: &str, hint: &str) -> Option<T> {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string();
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // cargo names test binaries `<target>-<hash>`.
    let binary = binary.rsplit_once('-').map_or(binary.as_str(), |(b, _)| b);
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        // Failing is this helper's whole purpose when inputs are required.
        panic!(
            "{test}: required input missing: {what} ({hint}); {REQUIRE_ENV}=1 makes this a failure"
        );
    }
    eprintln!("skipped: {what} not found ({hint})");
    if let Some(log) = std::env::var_os(SKIP_LOG_ENV) {
        let line = format!("{binary} {test}: {what}\n");
        // One short O_APPEND write per skip keeps lines whole across parallel test processes.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "could not record the skip in {}: {e}",
                log.to_string_lossy()
            );
        }
    }
    None
}

/// A new, empty directory under the system temp dir, unique to this call: a name left by an
/// earlier process with the same pid is cleared, and two tests never share one.
pub fn scratch(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("lpipe-{name}-{}-{n}", std::process::id()));
    let made = std::fs::remove_dir_all(&dir)
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        })
        .and_then(|()| std::fs::create_dir_all(&dir));
    if let Err(e) = made {
        // A test cannot run without its directory; failing names it.
        panic!("scratch directory {}: {e}", dir.display());
    }
    dir
}
