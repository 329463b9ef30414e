//! Random and mutated pipeline text never makes the parser, checker, formatter or renderer
//! panic, and whatever parses formats to a fixed point. Bounded: a fixed number of cases.

use proptest::prelude::*;

use lpipe::check::check_text;
use lpipe::cli::fmt::format_source;
use lpipe::diag::render;

fn seeds() -> Vec<String> {
    let mut texts: Vec<String> = std::fs::read_dir("pipelines")
        .into_iter()
        .flatten()
        .chain(std::fs::read_dir("tests/diagnostics").into_iter().flatten())
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "lpipe"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    texts.sort();
    texts
}

/// Checks text end to end; panics are the failure.
fn exercise(text: &str) {
    let checked = check_text("fuzz.lpipe", text, &[]);
    for d in &checked.diagnostics {
        let _ = render(d, 80);
    }
    if let Ok(formatted) = format_source(std::path::Path::new("fuzz.lpipe"), text) {
        let again = format_source(std::path::Path::new("fuzz.lpipe"), &formatted);
        assert_eq!(
            again.as_deref().ok(),
            Some(formatted.as_str()),
            "fmt is not a fixed point for:\n{text}"
        );
    }
}

/// Cases per property: `PROPTEST_CASES` or 1000.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Tokens of the language, so random text often gets deep into the grammar.
const TOKENS: [&str; 40] = [
    "lora",
    "model",
    "train",
    "dataset",
    "eval",
    "sweep",
    "grid",
    "zip",
    "quantize",
    "export",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ",",
    ".",
    "r",
    "alpha",
    "2",
    "3e-4",
    "50_000",
    "24GiB",
    "2h",
    "\"x\"",
    "true",
    "then",
    "warmup",
    "cosine",
    "*",
    "/",
    "-",
    "+",
    "\n",
    " ",
    "# c\n",
    "adamw(lr = 1e-3)",
    "extend \"nope.lpipe\"\n",
];

proptest! {
    // Bounded for CI (a few seconds); raise with PROPTEST_CASES for a longer soak.
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(text in "\\PC{0,200}") {
        exercise(&text);
    }

    #[test]
    fn random_token_soup_never_panics(tokens in proptest::collection::vec(0..TOKENS.len(), 0..60)) {
        let text: String = tokens.iter().map(|&i| TOKENS[i]).collect::<Vec<_>>().join(" ");
        exercise(&text);
    }

    #[test]
    fn mutated_pipelines_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((0usize..4, 0.0f64..1.0, 0usize..8, 0..TOKENS.len()), 1..6),
    ) {
        let seeds = seeds();
        let Some(base) = seeds.get(which % seeds.len().max(1)) else { return Ok(()) };
        let mut text = base.clone();
        for (op, pos, len, token) in edits {
            let mut at = ((text.len() as f64) * pos) as usize;
            while at > 0 && !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(text.len());
            while end < text.len() && !text.is_char_boundary(end) {
                end += 1;
            }
            match op {
                0 => text.replace_range(at..end, ""),
                1 => text.insert_str(at, TOKENS[token]),
                2 => text.replace_range(at..end, TOKENS[token]),
                _ => {
                    let chunk = text[at..end].to_string();
                    text.insert_str(end, &chunk);
                }
            }
        }
        exercise(&text);
    }
}
