//! Every diagnostic code has a case in tests/diagnostics/<code>.lpipe whose rendered output
//! (unicode, no colour, 80 columns) is snapshotted; the case must produce that code.

use std::path::{Path, PathBuf};

use lpipe::check::check_file;
use lpipe::diag::render;

/// Every code the language reports.
const CODES: [&str; 30] = [
    "E001", "E002", "E003", "E004", "E100", "E101", "E102", "E103", "E104", "E105", "E106", "E107",
    "E108", "E109", "E110", "E111", "E112", "E113", "E114", "E115", "E116", "E117", "E118", "E119",
    "E120", "E121", "E150", "E151", "E152", "E153",
];

fn case_dir() -> PathBuf {
    PathBuf::from("tests/diagnostics")
}

/// Checks a case and renders every diagnostic, separated by blank lines.
fn rendered(path: &Path) -> (Vec<String>, String) {
    let checked = check_file(path, &[]);
    let codes = checked.diagnostics.iter().map(|d| d.code_str()).collect();
    let text = checked
        .diagnostics
        .iter()
        .map(|d| render(d, 80))
        .collect::<Vec<_>>()
        .join("\n");
    (codes, text)
}

#[test]
fn every_code_has_a_case_that_produces_it() {
    for code in CODES {
        let case = case_dir().join(format!("{code}.lpipe"));
        assert!(case.is_file(), "missing case file {}", case.display());
        // E100 is about a file that cannot be read, so its case names a missing sibling.
        let path = if code == "E100" {
            case_dir().join("E100-missing.lpipe")
        } else {
            case
        };
        let (codes, text) = rendered(&path);
        let expected = format!("lpipe::{code}");
        assert!(codes.contains(&expected), "{code}: got {codes:?}\n{text}");
        insta::assert_snapshot!(code, text);
    }
}

#[test]
fn warnings_alone_leave_the_pipeline_valid() {
    for code in ["E150", "E151", "E152", "E153"] {
        let checked = check_file(&case_dir().join(format!("{code}.lpipe")), &[]);
        assert!(!checked.has_errors(), "{code} should only warn");
        assert!(checked.pipeline.is_some());
    }
}

#[test]
fn five_mistakes_give_five_diagnostics_in_one_run() {
    let (codes, text) = rendered(&case_dir().join("five-mistakes.lpipe"));
    assert_eq!(codes.len(), 5, "{text}");
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        5,
        "five different codes expected: {codes:?}"
    );
    insta::assert_snapshot!("five-mistakes", text);
}

#[test]
fn errors_in_an_extended_file_point_into_that_file() {
    let checked = check_file(&case_dir().join("extend/child.lpipe"), &[]);
    let text = checked
        .diagnostics
        .iter()
        .map(|d| render(d, 80))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(checked.diagnostics.len(), 1, "{text}");
    assert!(
        text.contains("tests/diagnostics/extend/base.lpipe"),
        "{text}"
    );
    assert!(text.contains("dropout = 1.5"), "{text}");
    insta::assert_snapshot!("extend-child", text);
}

#[test]
fn set_overrides_are_checked_and_point_at_the_argument() {
    let checked = check_file(&case_dir().join("E150.lpipe"), &["lora.r=0".to_string()]);
    let text = checked
        .diagnostics
        .iter()
        .map(|d| render(d, 80))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(checked.has_errors());
    assert!(text.contains("--set"), "{text}");
    insta::assert_snapshot!("set-override", text);
}

/// E120's other branches (the case file covers the unknown placeholder): each template is
/// refused with its own reason, pointing at the template string.
#[test]
fn invalid_templates_name_what_is_wrong() {
    let dir = lpipe::testing::scratch("e120");
    for (template, reason) in [
        ("Q: {input}", "no `{instruction}` placeholder"),
        ("{instruction} {input", "unclosed `{`"),
        (
            "{instruction} {inptu}",
            "unknown placeholder `{inptu}` (did you mean `{input}`?)",
        ),
        (
            "{instruction} {output} {output}",
            "`{output}` appears more than once",
        ),
    ] {
        let file = dir.join("case.lpipe");
        let text = format!(
            "dataset {{\n  source = json(\"a.json\")\n  template = \"{template}\"\n}}\n\
             model {{\n  source = \"m.gguf\"\n}}\n"
        );
        std::fs::write(&file, &text).unwrap();
        let checked = check_file(&file, &[]);
        let codes: Vec<String> = checked.diagnostics.iter().map(|d| d.code_str()).collect();
        assert_eq!(codes, ["lpipe::E120"], "{template}");
        let rendered = render(&checked.diagnostics[0], 200);
        assert!(
            rendered.contains(&format!("invalid template: {reason}")),
            "{template}: {rendered}"
        );
        let col = text.find(&format!("\"{template}")).unwrap() - text.find("  template").unwrap();
        assert!(
            rendered.contains(&format!("case.lpipe:3:{}]", col + 1)),
            "{rendered}"
        );
    }
}

#[test]
fn docs_list_every_code() {
    let docs = std::fs::read_to_string("docs/diagnostics.md").expect("docs/diagnostics.md");
    for code in CODES {
        assert!(
            docs.contains(&format!("## {code}\n")),
            "docs/diagnostics.md lacks {code}"
        );
        // The example output in the docs is the snapshot, so the docs cannot drift.
        let snap =
            std::fs::read_to_string(format!("tests/it/snapshots/it__diagnostics__{code}.snap"))
                .expect("snapshot");
        let body = snap
            .splitn(3, "---\n")
            .nth(2)
            .unwrap_or_default()
            .trim_end();
        assert!(
            docs.contains(body),
            "docs/diagnostics.md example for {code} differs from its snapshot"
        );
    }
}

#[test]
fn the_code_list_matches_the_enum() {
    // Every `code(lpipe::E…)` declared in src/diag.rs must be in CODES (and so have a case).
    let source = std::fs::read_to_string("src/diag.rs").expect("src/diag.rs");
    let mut declared: Vec<&str> = source
        .match_indices("code(lpipe::")
        .filter_map(|(i, m)| source.get(i + m.len()..i + m.len() + 4))
        .collect();
    declared.sort_unstable();
    let mut listed = CODES.to_vec();
    listed.sort_unstable();
    assert_eq!(declared, listed);
}

/// Every `lpipe::E…` code the source can report, with a file that reports it.
fn source_codes() -> std::collections::BTreeMap<String, std::path::PathBuf> {
    let mut codes = std::collections::BTreeMap::new();
    let mut stack = vec![std::path::PathBuf::from("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            for (at, _) in text.match_indices("lpipe::E") {
                let code: String = text[at + "lpipe::".len()..].chars().take(4).collect();
                let digits = code[1..].chars().all(|c| c.is_ascii_digit());
                // `E300`–`E349` in a comment names a range, not a code.
                let line = text[..at].rsplit('\n').next().unwrap_or_default();
                if digits && !line.trim_start().starts_with("//") {
                    codes.entry(code).or_insert_with(|| path.clone());
                }
            }
        }
    }
    codes
}

/// Every code the source can report is explained in docs/diagnostics.md or docs/codes/*.md, so
/// a user can look up what any `lpipe::E…` means.
#[test]
fn every_code_in_the_source_is_documented() {
    let mut docs = std::fs::read_to_string("docs/diagnostics.md").expect("docs/diagnostics.md");
    for entry in std::fs::read_dir("docs/codes").expect("docs/codes") {
        docs += &std::fs::read_to_string(entry.expect("entry").path()).expect("readable");
    }
    let codes = source_codes();
    assert!(codes.len() > 100, "found {} codes", codes.len());
    let missing: Vec<String> = codes
        .iter()
        .filter(|(code, _)| !docs.contains(code.as_str()))
        .map(|(code, path)| format!("{code} ({})", path.display()))
        .collect();
    assert!(missing.is_empty(), "undocumented codes: {missing:?}");
}

/// `lpipe explain` knows every code the source can report (its own section or its table row).
#[test]
fn every_code_in_the_source_can_be_explained() {
    let missing: Vec<String> = source_codes()
        .into_keys()
        .filter(|code| lpipe::cli::explain::explain(code).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "`lpipe explain` does not know {missing:?}"
    );
    let e107 = lpipe::cli::explain::explain("lpipe::e107").expect("E107");
    assert!(
        e107.contains("A value outside its allowed range."),
        "{e107}"
    );
    assert!(e107.contains("must be between 1 and 65536"), "{e107}");
    assert!(!e107.contains("## E108"), "{e107}");
}
