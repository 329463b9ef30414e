//! `lpipe fmt`: canonical layout, comments kept where they belong, idempotent.

use std::path::Path;

use lpipe::cli::fmt::format_source;

fn fmt(text: &str) -> String {
    let once = format_source(Path::new("t.lpipe"), text).expect("parses");
    let twice = format_source(Path::new("t.lpipe"), &once).expect("formatted text parses");
    assert_eq!(once, twice, "not idempotent");
    once
}

#[test]
fn canonical_spacing_and_indent() {
    assert_eq!(
        fmt("model{source=\"m\" precision=bf16}\nlora{targets=[query,value,] r=8 alpha=2*r}"),
        "model {\n  source = \"m\"\n  precision = bf16\n}\n\nlora {\n  targets = [query, value]\n  r = 8\n  alpha = 2 * r\n}\n"
    );
    assert_eq!(
        fmt("x = adamw( lr=3e-4 , weight_decay = 0.01 )"),
        "x = adamw(lr = 3e-4, weight_decay = 0.01)\n"
    );
    assert_eq!(
        fmt("x = { a = 1 b = \"q\\n\" }"),
        "x = { a = 1, b = \"q\\n\" }\n"
    );
    assert_eq!(
        fmt("x = warmup(100)   then\n cosine"),
        "x = warmup(100) then cosine\n"
    );
    assert_eq!(fmt("x = -( 1 + 2 ) * 3"), "x = -(1 + 2) * 3\n");
    // Literals keep their spelling.
    assert_eq!(
        fmt("x = 50_000\ny = 24GiB\nz = 3E-4"),
        "x = 50_000\ny = 24GiB\nz = 3E-4\n"
    );
}

#[test]
fn comments_stay_with_what_they_describe() {
    let text = "# file header\n\n# about lora\nlora { # opens\n  # about r\n  r = 8 # trailing\n\n  alpha = 16\n  # at the end\n}\n# last\n";
    assert_eq!(
        fmt(text),
        "# file header\n\n# about lora\nlora {  # opens\n  # about r\n  r = 8  # trailing\n\n  alpha = 16\n  # at the end\n}\n# last\n"
    );
}

#[test]
fn comments_inside_values_move_above_them() {
    assert_eq!(fmt("x = [1, # one\n 2]\n"), "# one\nx = [1, 2]\n");
}

#[test]
fn long_lists_break_one_item_per_line() {
    let items: Vec<String> = (0..30).map(|i| format!("item{i}")).collect();
    let out = fmt(&format!("x = [{}]", items.join(", ")));
    assert!(out.starts_with("x = [\n  item0,\n  item1,\n"), "{out}");
    assert!(out.ends_with("  item29,\n]\n"), "{out}");
}

#[test]
fn blank_lines_are_kept_but_not_doubled() {
    assert_eq!(
        fmt("a = 1\n\n\n\nb = 2\nc = 3\n"),
        "a = 1\n\nb = 2\nc = 3\n"
    );
    assert_eq!(
        fmt("extend \"b.lpipe\"\nlora.r = 2"),
        "extend \"b.lpipe\"\n\nlora.r = 2\n"
    );
    assert_eq!(fmt(""), "");
}

#[test]
fn a_blank_line_after_a_comment_is_kept() {
    assert_eq!(
        fmt("# header\n\nname = \"x\"\n# about r\nr = 8\n"),
        "# header\n\nname = \"x\"\n# about r\nr = 8\n"
    );
}

#[test]
fn nested_long_lists_break_and_keep_their_comments() {
    let inner: Vec<String> = (0..12).map(|i| format!("paradigm_number_{i}")).collect();
    let text = format!(
        "tasks = [mmlu_x,\n  # five BLiMP paradigms\n  blimp(paradigms = [{}]), # trailing\n]\n",
        inner.join(", ")
    );
    let out = fmt(&text);
    assert!(
        out.starts_with(
            "tasks = [\n  mmlu_x,\n  # five BLiMP paradigms\n  blimp(\n    paradigms = [\n      paradigm_number_0,\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("      paradigm_number_11,\n    ],\n  ),\n"),
        "{out}"
    );
    assert!(out.contains("# trailing"), "{out}");
}
