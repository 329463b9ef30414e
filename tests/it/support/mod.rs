//! Helpers shared by the test modules, and the one lock over process-wide state.

pub mod data;
pub mod sweep;
pub mod train;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// Held by every test that touches state the whole process shares, for as long as it depends
/// on it. All tests run in this one process, on parallel threads; what needs it:
///
/// - the backend's random generator (Burn's flex backend keeps one per process): a test that
///   seeds it and then draws (LoRA init, dropout, `Tensor::random`, `init_random`) must not see
///   another test's draws in between, and a test that draws unseeded, or that reseeds it (`fit`
///   reseeds it before every micro-batch), would move a seeded test's sequence. So every test
///   that seeds or draws holds it, from its first draw to its last;
/// - environment variables, the panic hook, the working directory and global thread pools,
///   should a test ever change them (none does today: children get their own environment
///   through `Command::env`).
///
/// A test that failed while holding it poisons it; the next one takes it anyway (the state it
/// guards is reseeded or reset by whoever takes it next).
pub fn global_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name libtest gives test function `test` of the module at `module_path` (`module_path!()`
/// there): the path without the crate, as `--exact` wants it when a test re-runs this binary.
pub fn test_name(module_path: &str, test: &str) -> String {
    let module = module_path.split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{test}")
}

/// Runs the `lpipe` binary with `args` then `file`, its cache under `root`, colours off.
pub fn lpipe(root: &Path, args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .env("NO_COLOR", "1")
        .env("LPIPE_CACHE_DIR", root.join("cache"))
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}
