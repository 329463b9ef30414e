//! The parser: literals, precedence, spans, and equality that ignores spans.

use lpipe::source::SourceFile;
use lpipe::span::FileId;
use lpipe::syntax::ast::{BinOp, ExprKind, File, Item};
use lpipe::syntax::parser::parse_file;

fn parse(text: &str) -> File {
    let source = SourceFile::virtual_file("t.lpipe", text);
    match parse_file(&source, FileId(0)) {
        Ok(file) => file,
        Err(e) => panic!("{text:?} did not parse: {e:?}"),
    }
}

fn value(text: &str) -> ExprKind {
    let file = parse(&format!("x = {text}\n"));
    match file.items.into_iter().next() {
        Some(Item::Assign(a)) => a.value.kind,
        other => panic!("not an assignment: {other:?}"),
    }
}

#[test]
fn numbers_sizes_and_durations() {
    assert!(matches!(
        value("50_000"),
        ExprKind::Int { value: 50_000, .. }
    ));
    assert!(matches!(value("3e-4"), ExprKind::Float { value, .. } if (value - 3e-4).abs() < 1e-18));
    assert!(matches!(value("0.05"), ExprKind::Float { value, .. } if value == 0.05));
    assert!(matches!(value("24GiB"), ExprKind::Size { bytes, .. } if bytes == 24 << 30));
    assert!(matches!(
        value("80GB"),
        ExprKind::Size {
            bytes: 80_000_000_000,
            ..
        }
    ));
    assert!(matches!(value("90min"), ExprKind::Duration { seconds, .. } if seconds == 5400.0));
    assert!(matches!(value("true"), ExprKind::Bool(true)));
    assert!(matches!(value("\"a\\n\\\"b\\u{41}\""), ExprKind::Str(s) if s == "a\n\"bA"));
}

#[test]
fn precedence_and_then() {
    // 1 + 2 * 3 parses as 1 + (2 * 3).
    let ExprKind::Binary {
        op: BinOp::Add,
        rhs,
        ..
    } = value("1 + 2 * 3")
    else {
        panic!("not +")
    };
    assert!(matches!(rhs.kind, ExprKind::Binary { op: BinOp::Mul, .. }));
    // `then` binds loosest.
    let ExprKind::Binary {
        op: BinOp::Then,
        lhs,
        rhs,
    } = value("warmup(100) then cosine(min_lr = 0)")
    else {
        panic!("not then")
    };
    assert!(matches!(lhs.kind, ExprKind::Call { .. }));
    assert!(
        matches!(rhs.kind, ExprKind::Call { ref args, .. } if args.len() == 1 && args[0].name.is_some())
    );
    // Left associative: 8 - 4 - 2 is (8 - 4) - 2.
    let ExprKind::Binary {
        op: BinOp::Sub,
        lhs,
        ..
    } = value("8 - 4 - 2")
    else {
        panic!("not -")
    };
    assert!(matches!(lhs.kind, ExprKind::Binary { op: BinOp::Sub, .. }));
}

#[test]
fn lists_maps_calls_and_paths() {
    assert!(matches!(value("[query, value,]"), ExprKind::List(items) if items.len() == 2));
    assert!(matches!(value("{ a = 1, b = \"x\" }"), ExprKind::Map(entries) if entries.len() == 2));
    assert!(matches!(value("{ a = 1 b = 2 }"), ExprKind::Map(entries) if entries.len() == 2));
    assert!(matches!(value("lora.r"), ExprKind::Path(p) if p.dotted() == "lora.r"));
    assert!(
        matches!(value("json(\"a.json\", output = \"y\")"), ExprKind::Call { args, .. } if args.len() == 2)
    );
}

#[test]
fn blocks_extends_and_comments() {
    let file = parse(
        "# top\nextend \"base.lpipe\" // why\n\neval before {\n  tasks = [mmlu] # all subjects\n}\nlora.r = 16\n",
    );
    assert_eq!(file.extends.len(), 1);
    assert_eq!(file.extends[0].path.node, "base.lpipe");
    assert_eq!(file.comments.len(), 3);
    let Item::Block(block) = &file.items[0] else {
        panic!("not a block")
    };
    assert_eq!(block.kind.node, "eval");
    assert_eq!(block.name.as_ref().map(|n| n.node.as_str()), Some("before"));
    assert!(matches!(&file.items[1], Item::Assign(a) if a.key.dotted() == "lora.r"));
}

#[test]
fn spans_point_at_the_text_and_equality_ignores_them() {
    let text = "lora {\n  r = 8\n}\n";
    let a = parse(text);
    let b = parse("lora   {  r   =   8 }");
    assert_eq!(a.items, b.items, "same structure, different spacing");
    let Item::Block(block) = &a.items[0] else {
        panic!("not a block")
    };
    let Item::Assign(assign) = &block.items[0] else {
        panic!("not an assignment")
    };
    assert_eq!(&text[assign.span.start..assign.span.end], "r = 8");
    assert_eq!(&text[assign.value.span.start..assign.value.span.end], "8");
    assert_ne!(a.items, parse("lora { r = 9 }").items);
}

#[test]
fn syntax_errors_name_what_was_expected() {
    let source = SourceFile::virtual_file("t.lpipe", "lora { r = }");
    let errors = parse_file(&source, FileId(0)).expect_err("invalid");
    let message = errors[0].to_string();
    assert!(message.contains("a value"), "{message}");
    let source = SourceFile::virtual_file("t.lpipe", "lora { r 8 }");
    let errors = parse_file(&source, FileId(0)).expect_err("invalid");
    assert!(
        errors[0].to_string().contains("`key = value`") || errors[0].to_string().contains("a name"),
        "{}",
        errors[0]
    );
}

#[test]
fn parsing_resumes_after_a_syntax_error() {
    let text = "lora {\n  r = \n}\n\nmodel {\n  source = \"m\" +\n}\n\ntrain { batch_size = 8 }\n";
    let source = SourceFile::virtual_file("t.lpipe", text);
    let errors = parse_file(&source, FileId(0)).expect_err("invalid");
    assert_eq!(errors.len(), 2, "{errors:?}");
    let lines: Vec<usize> = errors
        .iter()
        .filter_map(|e| {
            miette::Diagnostic::labels(e)
                .and_then(|mut l| l.next())
                .map(|l| text[..l.offset()].matches('\n').count() + 1)
        })
        .collect();
    assert_eq!(
        lines,
        [3, 7],
        "errors at the `}}` closing each broken block"
    );
}
