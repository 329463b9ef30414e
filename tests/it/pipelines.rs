//! Every shipped pipeline parses, checks without errors, and is already `lpipe fmt`-formatted;
//! formatting is idempotent.

use std::path::PathBuf;

use lpipe::check::check_file;
use lpipe::cli::fmt::format_source;
use lpipe::diag::render;

fn pipelines() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("pipelines")
        .expect("pipelines/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "lpipe"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_pipeline_checks() {
    let files = pipelines();
    assert!(
        files.len() >= 9,
        "expected the seed's pipelines, found {files:?}"
    );
    for file in files {
        let checked = check_file(&file, &[]);
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| render(d, 80))
            .collect();
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            file.display(),
            errors.join("\n")
        );
        let pipeline = checked.pipeline.expect("valid pipeline");
        assert!(!pipeline.runs.is_empty());
    }
}

#[test]
fn fmt_is_idempotent_and_shipped_files_are_formatted() {
    for file in pipelines() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let once = format_source(&file, &text).expect("parses");
        let twice = format_source(&file, &once).expect("formatted text parses");
        assert_eq!(once, twice, "fmt not idempotent on {}", file.display());
        assert_eq!(
            once,
            text,
            "{} is not formatted (run `lpipe fmt`)",
            file.display()
        );
    }
}

#[test]
fn fmt_keeps_every_comment() {
    for file in pipelines() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let formatted = format_source(&file, &text).expect("parses");
        let comments = |t: &str| {
            t.lines()
                .filter(|l| l.contains('#'))
                .map(|l| l[l.find('#').unwrap_or(0)..].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(comments(&text), comments(&formatted), "{}", file.display());
    }
}

#[test]
fn every_key_is_commented_the_first_time_it_appears() {
    let mut seen = std::collections::HashSet::new();
    // Base first, so keys are introduced where a reader starts.
    let mut files = pipelines();
    files.sort_by_key(|p| {
        (
            !p.ends_with("lora-defaults.lpipe"),
            !p.ends_with("quickstart.lpipe"),
            p.clone(),
        )
    });
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim();
            let Some((key, _)) = trimmed.split_once(" = ") else {
                continue;
            };
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                continue;
            }
            let key = key.rsplit('.').next().unwrap_or(key).to_string();
            if seen.insert(key.clone()) {
                let previous = i
                    .checked_sub(1)
                    .and_then(|j| lines.get(j))
                    .map_or("", |l| l.trim());
                assert!(
                    previous.starts_with('#'),
                    "{}:{}: first `{key}` has no comment above it",
                    file.display(),
                    i + 1
                );
            }
        }
    }
}

/// No two runs of the shipped pipelines write the same adapter folder: the seed's pipelines all
/// extend lora-defaults.lpipe, and an inherited export path would make them overwrite each other.
#[test]
fn shipped_pipelines_export_to_distinct_folders() {
    let mut seen: std::collections::BTreeMap<PathBuf, String> = Default::default();
    let mut exporting = 0;
    for file in pipelines() {
        let pipeline = check_file(&file, &[]).pipeline.expect("valid pipeline");
        for run in &pipeline.runs {
            let Some(export) = &run.config.export else {
                continue;
            };
            exporting += 1;
            let dir = lpipe::stages::export::destination(&pipeline, export, &run.name);
            let dir = lpipe::check::paths::normalize(&std::path::absolute(&dir).expect("absolute"));
            let who = format!("{} run {}", file.display(), run.name);
            if let Some(other) = seen.insert(dir.clone(), who.clone()) {
                panic!("{who} and {other} both export to {}", dir.display());
            }
        }
    }
    assert!(exporting >= 9, "only {exporting} runs export");
}

/// README's documentation list links every page under docs/ (it once left out three).
#[test]
fn readme_links_every_doc_page() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    for entry in std::fs::read_dir("docs").expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let link = format!("({})", path.display());
            assert!(
                readme.contains(&link),
                "README.md does not link {}",
                path.display()
            );
        }
    }
}
