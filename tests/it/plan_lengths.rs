//! `lpipe plan` prints the dataset's token lengths without loading weights: the tokenizer comes
//! from `model.tokenizer` or from the checkpoint's files, tokens go through the same cache
//! `lpipe run` reads, and a missing tokenizer or data file gives a one-line note, not a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lpipe::check::check_file;
use sha2::{Digest, Sha256};

fn temp(tag: &str) -> PathBuf {
    lpipe::testing::scratch(&format!("plan-{tag}"))
}

/// `lpipe plan` with its own cache directory and an empty HF cache (so nothing is found by accident).
fn plan(file: &Path, cache: &Path, extra: &[&str]) -> Output {
    let hub = cache.join("empty-hub");
    std::fs::create_dir_all(&hub).unwrap();
    Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .arg("plan")
        .args(extra)
        .arg(file)
        .env("LPIPE_CACHE_DIR", cache)
        .env("HF_HUB_CACHE", &hub)
        .output()
        .unwrap()
}

/// The plan's `length stats` section (its heading and the lines indented under it).
fn section(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let mut lines = text.lines().skip_while(|l| !l.starts_with("length stats"));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    out.extend(lines.take_while(|l| l.starts_with("  ")));
    out.join("\n")
}

fn fixture_tokenizer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sp_tiny_bpe.model")
}

/// A pipeline over `source` whose model is `model` (a `model.source` value) plus extra model keys.
fn pipeline(dir: &Path, source: &str, model: &str) -> PathBuf {
    let text = format!(
        r#"name = "lengths"
dataset {{
  source = {source}
  template = alpaca
  max_seq_len = 24
}}
model {{
{model}
}}
"#
    );
    let file = dir.join("lengths.lpipe");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn lora_defaults_reports_the_alpaca_reference_lengths() {
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let cache = temp("llama2");
    let file = Path::new("pipelines/lora-defaults.lpipe");
    // The Llama 2 weights are not here: `model.tokenizer` names the SentencePiece model.
    let expected = |cached: &str| {
        format!(
            "length stats (tokens of template prompt + response, without BOS/EOS; tokenizer \
             ../shared/data/llama2_tokenizer/tokenizer.model{cached}):\n  \
             52,002 examples: median 110, mean 126.17, p95 240, max 1,303, min 41\n  \
             truncated: 1 of 52,002 longer than max_seq_len 1,304 with BOS + EOS"
        )
    };
    let first = plan(file, &cache, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(section(&first.stdout), expected(""));
    // The second plan reads the tokens the first one cached (as `lpipe run` will).
    let second = plan(file, &cache, &[]);
    assert_eq!(section(&second.stdout), expected(", cached"));

    // The machine-readable plan carries the unrounded numbers: the reference's own convention
    // (../shared/golden/llama2_tokenizer/alpaca_length_stats.json, Python `statistics`).
    let json = plan(file, &cache, &["--format", "plan-json"]);
    assert!(json.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("golden/llama2_tokenizer/alpaca_length_stats.json"))
            .unwrap(),
    )
    .unwrap();
    let lengths = &plan["lengths"][0];
    assert_eq!(lengths["runs"], serde_json::json!(["lora-defaults"]));
    let m = &lengths["outcome"];
    assert_eq!(m["status"], "measured");
    assert_eq!(
        (m["bos"].as_bool(), m["eos"].as_bool()),
        (Some(true), Some(true))
    );
    let s = &m["text"];
    assert_eq!(s["count"], 52002);
    assert_eq!(s["median"], golden["median"]);
    assert_eq!(s["min"], golden["min"]);
    assert_eq!(s["max"], golden["max"]);
    // A sum of 52,002 integers divided once: f64 matches Python's mean to rounding.
    let (mean, reference) = (
        s["mean"].as_f64().unwrap(),
        golden["mean"].as_f64().unwrap(),
    );
    assert!((mean - reference).abs() <= 1e-12 * reference, "{mean}");
    let key = m["key"].as_str().unwrap();
    assert!(cache.join(format!("datasets/{key}.safetensors")).is_file());
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn every_seed_pipeline_names_the_llama2_tokenizer() {
    for name in [
        "lora-defaults",
        "lora-all-layers",
        "lora-r16-a32",
        "lora-r16-a32-head",
        "lora-large-r",
        "lora-r-alpha-sweep",
        "qlora-nf4",
        "qlora-fp4",
        "sgd-cosine",
    ] {
        let checked = check_file(Path::new(&format!("pipelines/{name}.lpipe")), &[]);
        let p = checked.pipeline.expect("valid");
        for run in &p.runs {
            // Relative to the file that wrote it (lora-defaults.lpipe), like the dataset's path.
            assert_eq!(
                run.config.model.tokenizer.as_deref(),
                Some(Path::new("../shared/data/llama2_tokenizer/tokenizer.model")),
                "{name}"
            );
        }
    }
}

#[test]
fn quickstart_measures_with_the_gguf_tokenizer() {
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .args(["plan", "pipelines/quickstart.lpipe"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // Only metadata of the GGUF is read; the file may or may not be in the dataset cache already.
    let got = section(&out.stdout).replace(", cached", "");
    assert_eq!(
        got,
        format!(
            "length stats (tokens of template prompt + response, without EOS; tokenizer {}):\n  \
             2,000 examples: median 42, mean 42.22, p95 43, max 43, min 39\n  \
             truncated: 0 of 2,000 longer than max_seq_len 128 with EOS",
            gguf.display()
        )
    );
}

#[test]
fn explicit_tokenizer_measures_without_a_checkpoint() {
    let dir = temp("explicit");
    let file = pipeline(
        &dir,
        "arithmetic(digits = 2, ops = [plus, minus], count = 40, seed = 1)",
        &format!(
            "  source = \"absent.gguf\"\n  arch = tiny\n  tokenizer = \"{}\"",
            fixture_tokenizer().display()
        ),
    );
    let out = plan(&file, &dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = section(&out.stdout);
    assert!(
        got.starts_with(&format!(
            "length stats (tokens of template prompt + response, without BOS/EOS; tokenizer {}):\n  40 examples: median ",
            fixture_tokenizer().display()
        )),
        "{got}"
    );
    // 24 tokens with BOS + EOS: the alpaca prompt alone is longer, so every example is cut.
    assert!(
        got.ends_with("truncated: 40 of 40 longer than max_seq_len 24 with BOS + EOS"),
        "{got}"
    );
    // `--no-lengths` leaves the section out.
    let quiet = plan(&file, &dir, &["--no-lengths"]);
    assert_eq!(section(&quiet.stdout), "");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_tokenizer_or_data_gives_a_one_line_note() {
    let dir = temp("skips");
    let data = dir.join("data.json");
    std::fs::write(
        &data,
        r#"[{"instruction": "Say hi.", "input": "", "output": "Hi."}]"#,
    )
    .unwrap();
    let cases = [
        (
            "json(\"data.json\")".to_string(),
            "  source = hf(\"nobody/nothing\")\n  arch = tiny".to_string(),
            format!(
                "length stats: skipped (hf nobody/nothing is not in the Hugging Face cache {}; \
                 set `model.tokenizer` to measure lengths without the weights)",
                dir.join("empty-hub").display()
            ),
        ),
        (
            "json(\"data.json\")".to_string(),
            "  source = \"absent\"\n  arch = tiny".to_string(),
            format!(
                "length stats: skipped (model {} not found; set `model.tokenizer` to measure \
                 lengths without the weights)",
                dir.join("absent").display()
            ),
        ),
        (
            "json(\"data.json\")".to_string(),
            "  source = \"absent\"\n  arch = tiny\n  tokenizer = \"nope.model\"".to_string(),
            format!(
                "length stats: skipped (tokenizer {} not found)",
                dir.join("nope.model").display()
            ),
        ),
        (
            "json(\"gone.json\")".to_string(),
            format!(
                "  source = \"absent\"\n  arch = tiny\n  tokenizer = \"{}\"",
                fixture_tokenizer().display()
            ),
            format!(
                "length stats: skipped (data file {} not found)",
                dir.join("gone.json").display()
            ),
        ),
    ];
    for (source, model, note) in cases {
        let file = pipeline(&dir, &source, &model);
        let out = plan(&file, &dir, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(section(&out.stdout), note);
        // Parameter counts still print.
        assert!(String::from_utf8_lossy(&out.stdout).contains("runs (1):"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_malformed_record_is_a_diagnostic_with_its_index() {
    let dir = temp("malformed");
    std::fs::write(
        dir.join("data.json"),
        r#"[{"instruction": "Say hi.", "output": "Hi."}, {"instruction": "Count."}]"#,
    )
    .unwrap();
    let file = pipeline(
        &dir,
        "json(\"data.json\")",
        &format!(
            "  source = \"absent\"\n  arch = tiny\n  tokenizer = \"{}\"",
            fixture_tokenizer().display()
        ),
    );
    let out = plan(&file, &dir, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `lpipe run` would stop on this record, so the plan fails too, and says where.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lpipe::E402"), "{stderr}");
    assert!(
        stderr.contains("record 1: missing field `output`"),
        "{stderr}"
    );
    assert_eq!(
        section(&out.stdout),
        "length stats: skipped (lpipe::E402 above)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_tokenizer_key_must_be_a_path_string() {
    let dir = temp("key");
    let file = pipeline(
        &dir,
        "arithmetic(count = 10)",
        "  source = \"absent\"\n  arch = tiny\n  tokenizer = 3",
    );
    let checked = check_file(&file, &[]);
    assert!(checked.has_errors());
    let codes: Vec<String> = checked
        .diagnostics
        .iter()
        .filter_map(|d| miette::Diagnostic::code(d).map(|c| c.to_string()))
        .collect();
    assert!(!codes.is_empty(), "{codes:?}");
    let file = pipeline(
        &dir,
        "arithmetic(count = 10)",
        "  source = \"absent\"\n  arch = tiny\n  tokenizer = \"tok/tokenizer.json\"",
    );
    let p = check_file(&file, &[]).pipeline.expect("valid");
    assert_eq!(
        p.runs[0].config.model.tokenizer.as_deref(),
        Some(dir.join("tok/tokenizer.json").as_path())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_tokenizer_is_found_without_reading_weights() {
    let dir = temp("hfdir");
    let ckpt = dir.join("ckpt");
    std::fs::create_dir_all(&ckpt).unwrap();
    // Garbage weights: planning must never open them.
    std::fs::write(ckpt.join("model.safetensors"), b"not safetensors").unwrap();
    std::fs::copy(fixture_tokenizer(), ckpt.join("tokenizer.model")).unwrap();
    let model = |tokenizer: Option<PathBuf>| lpipe::ir::Model {
        source: lpipe::ir::ModelSource::Local(ckpt.clone()),
        arch: Some("tiny".into()),
        precision: lpipe::ir::Precision::F32,
        device: lpipe::ir::Device::Cpu,
        device_memory: None,
        tokenizer,
    };
    use lpipe::plan::lengths::locate_tokenizer;
    assert_eq!(
        locate_tokenizer(&model(None), &dir),
        Ok(ckpt.join("tokenizer.model"))
    );
    // `lpipe run` prefers tokenizer.json beside the weights; so does the plan.
    std::fs::write(ckpt.join("tokenizer.json"), "{}").unwrap();
    assert_eq!(
        locate_tokenizer(&model(None), &dir),
        Ok(ckpt.join("tokenizer.json"))
    );
    std::fs::remove_file(ckpt.join("tokenizer.json")).unwrap();
    // The explicit key wins over the checkpoint's files.
    let explicit = dir.join("other.model");
    std::fs::copy(fixture_tokenizer(), &explicit).unwrap();
    assert_eq!(
        locate_tokenizer(&model(Some(explicit.clone())), &dir),
        Ok(explicit)
    );

    let file = pipeline(
        &dir,
        "arithmetic(count = 30)",
        "  source = \"ckpt\"\n  arch = tiny",
    );
    let out = plan(&file, &dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = section(&out.stdout);
    assert!(
        got.starts_with(&format!(
            "length stats (tokens of template prompt + response, without BOS/EOS; tokenizer {}):\n  30 examples: ",
            ckpt.join("tokenizer.model").display()
        )),
        "{got}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn large_tokenizer_files_have_their_hash_remembered() {
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let dir = temp("memo");
    let file = pipeline(
        &dir,
        "arithmetic(count = 20)",
        &format!("  source = \"{}\"\n  arch = smollm2_135m", gguf.display()),
    );
    let first = plan(&file, &dir, &[]);
    assert!(first.status.success());
    let memos: Vec<PathBuf> = std::fs::read_dir(dir.join("hashes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(memos.len(), 1);
    // The remembered digest is the file's SHA-256 (as recorded when the wheel was fetched).
    let memo = std::fs::read_to_string(&memos[0]).unwrap();
    let digest = memo.lines().last().unwrap();
    let expected: String = Sha256::digest(std::fs::read(&gguf).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, expected);
    let second = plan(&file, &dir, &[]);
    assert!(section(&second.stdout).contains(", cached):"));
    std::fs::remove_dir_all(&dir).unwrap();
}
