//! The shell blocks of README.md and docs/*.md are honest: each ```sh or ```console block says
//! whether it runs here (`runnable`) or why not (`skip: <reason>`: a GPU, a cluster, minutes of
//! training); every runnable command is run from the repository root with this build's `lpipe`
//! and must succeed, and in a console block every shown output line without `…` must be in what
//! the command printed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One fenced block: where it is, its info string, its lines.
struct Block {
    at: String,
    info: String,
    lines: Vec<String>,
}

fn blocks() -> Vec<Block> {
    let mut files = vec![PathBuf::from("README.md")];
    for entry in std::fs::read_dir("docs").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut open: Option<Block> = None;
        for (n, line) in text.lines().enumerate() {
            match (&mut open, line.strip_prefix("```")) {
                (None, Some(info)) if !info.is_empty() => {
                    open = Some(Block {
                        at: format!("{}:{}", file.display(), n + 1),
                        info: info.to_string(),
                        lines: Vec::new(),
                    })
                }
                (Some(_), Some(_)) => out.extend(open.take()),
                (Some(block), None) => block.lines.push(line.to_string()),
                _ => {}
            }
        }
    }
    out.into_iter()
        .filter(|b| b.info.starts_with("sh") || b.info.starts_with("console"))
        .collect()
}

/// `#` comments removed (outside quotes), continuation lines joined.
fn commands(block: &Block) -> Vec<(String, Vec<String>)> {
    let console = block.info.starts_with("console");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut pending = String::new();
    for line in &block.lines {
        let text = match (console, line.strip_prefix("$ ")) {
            (true, Some(cmd)) => cmd.to_string(),
            (true, None) if !pending.is_empty() => line.trim().to_string(),
            (true, None) => {
                if let Some(last) = out.last_mut() {
                    last.1.push(line.clone());
                }
                continue;
            }
            (false, _) => line.clone(),
        };
        let code = strip_comment(&text);
        if code.trim().is_empty() && pending.is_empty() {
            continue;
        }
        match code.trim_end().strip_suffix('\\') {
            Some(head) => pending += &format!("{head} "),
            None => {
                out.push((format!("{pending}{}", code.trim()), Vec::new()));
                pending.clear();
            }
        }
    }
    out
}

fn strip_comment(line: &str) -> String {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].to_string(),
            _ => {}
        }
        prev = c;
    }
    line.to_string()
}

#[test]
fn every_shell_block_says_whether_it_runs() {
    let unmarked: Vec<String> = blocks()
        .iter()
        .filter(|b| {
            let marks = b.info.split_once(' ').map_or("", |(_, m)| m.trim());
            let skipped = marks.strip_prefix("skip:").map(str::trim);
            marks != "runnable" && skipped.is_none_or(str::is_empty)
        })
        .map(|b| format!("{} ({})", b.at, b.info))
        .collect();
    assert!(
        unmarked.is_empty(),
        "mark these blocks `runnable` or `skip: <reason>`: {unmarked:?}"
    );
}

#[test]
fn runnable_blocks_run() {
    // `lpipe` on PATH is this build's binary.
    let bin = lpipe::testing::scratch("doc-commands-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("lpipe");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lpipe"), &link).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = bin.join("cache");
    let mut ran = 0;
    for block in blocks().iter().filter(|b| b.info.ends_with(" runnable")) {
        for (command, shown) in commands(block) {
            let out = Command::new("bash")
                .args(["-c", &command])
                .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .env("LPIPE_CACHE_DIR", &cache)
                .output()
                .unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success(),
                "{}: `{command}` failed:\n{printed}",
                block.at
            );
            let lines: Vec<&str> = printed.lines().map(str::trim_end).collect();
            for want in shown
                .iter()
                .filter(|l| !l.contains('…') && !l.trim().is_empty())
            {
                assert!(
                    lines.contains(&want.trim_end()),
                    "{}: `{command}` did not print `{want}`:\n{printed}",
                    block.at
                );
            }
            ran += 1;
        }
    }
    assert!(ran >= 4, "only {ran} documented commands ran");
    std::fs::remove_dir_all(&bin).ok();
}
