//! The input rule itself: with `../shared` pointed somewhere empty, a test that needs it is a
//! recorded skip, or with `LPIPE_REQUIRE_INPUTS=1` a failure naming what is missing. The child is
//! this test binary, re-run on [`needs_shared`] with `LPIPE_SHARED_DIR` set.

use std::process::Command;

const CHILD_ENV: &str = "LPIPE_INPUTS_CHILD";

/// Reads `../shared` as every golden test does; only meaningful in the child.
#[test]
fn needs_shared() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    panic!("{} should be absent", shared.display());
}

fn child(require: bool, skips: &std::path::Path) -> std::process::Output {
    let empty = lpipe::testing::scratch("no-shared");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    let test = crate::support::test_name(module_path!(), "needs_shared");
    cmd.args([test.as_str(), "--exact", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("LPIPE_SHARED_DIR", &empty)
        .env(lpipe::testing::SKIP_LOG_ENV, skips)
        .env_remove(lpipe::testing::REQUIRE_ENV);
    if require {
        cmd.env(lpipe::testing::REQUIRE_ENV, "1");
    }
    cmd.output().unwrap()
}

#[test]
fn absent_inputs_are_counted_skips_or_named_failures() {
    let dir = lpipe::testing::scratch("skip-log");
    let log = dir.join("skips");
    let out = child(false, &log);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recorded = std::fs::read_to_string(&log).unwrap();
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert!(
        recorded.contains("needs_shared: ../shared/data"),
        "{recorded}"
    );

    let out = child(true, &dir.join("unused"));
    // libtest reports a failed test's panic on stdout.
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("needs_shared: required input missing: ../shared/data"),
        "{text}"
    );
    assert!(!dir.join("unused").exists(), "a failure is not a skip");
}
