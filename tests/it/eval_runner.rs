//! The evaluation runner end to end on a small data directory in the official layout: prompts,
//! batching, decisions, group scores, eval.json / samples.jsonl, and `lpipe report`'s table.

use std::path::{Path, PathBuf};

use lpipe::eval::results::{EVAL_JSON, SAMPLES_JSONL};
use lpipe::eval::{
    EvalError, EvalOptions, EvalReport, Format, LogLikelihood, Request, SampleRecord, Scorer,
    TaskSpec, context_groups, evaluate, resolve,
};
use lpipe::sweep::report::{build_table, collect_runs};
use lpipe::tokenizer::Tokenizer;

struct Chars;
impl Tokenizer for Chars {
    fn encode(&self, text: &str, _add_bos: bool) -> Vec<u32> {
        text.chars().map(u32::from).collect()
    }
    fn decode(&self, ids: &[u32]) -> String {
        ids.iter().filter_map(|&i| char::from_u32(i)).collect()
    }
    fn bos_id(&self) -> Option<u32> {
        Some(1)
    }
    fn eos_id(&self) -> Option<u32> {
        Some(2)
    }
    fn vocab_size(&self) -> usize {
        0x11_0000
    }
}

/// Prefers short continuations (−0.5 per token) and calls a continuation greedy when it is " 3".
#[derive(Default)]
struct Toy {
    calls: usize,
    contexts_per_call: Vec<usize>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("toy failure")]
#[diagnostic(code(lpipe::E399))]
struct ToyError;

impl Scorer for Toy {
    type Error = ToyError;
    fn loglikelihood(&mut self, requests: &[Request]) -> Result<Vec<LogLikelihood>, ToyError> {
        self.calls += 1;
        self.contexts_per_call.push(context_groups(requests).len());
        Ok(requests
            .iter()
            .map(|r| LogLikelihood {
                logprob: -0.5 * r.continuation.len() as f64,
                is_greedy: r.continuation == [32, 51],
            })
            .collect())
    }
}

fn temp_dir(name: &str) -> PathBuf {
    lpipe::testing::scratch(name)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A data directory with three arithmetic problems, two MMLU subjects and two BLiMP paradigms.
fn data_dir(name: &str) -> PathBuf {
    let d = temp_dir(name);
    write(
        &d.join("gpt3_arithmetic/two_digit_subtraction.jsonl"),
        "{\"context\": \"\\n\\nQ: What is 5 minus 2?\\n\\nA:\", \"completion\": \" 3\"}\n\
         {\"context\": \"\\n\\nQ: What is 9 minus 2?\\n\\nA:\", \"completion\": \" 7\"}\n\n\
         {\"context\": \"\\n\\nQ: What is 8 minus 5?\\n\\nA:\", \"completion\": \" 3\"}\n",
    );
    let dev = "\"Q, one?\",a,bb,c,d,A\nQ2,a,b,c,d,C\n";
    for (subject, test) in [
        // The right answer is the shortest continuation " A" for none: all choices tie, argmax = A.
        (
            "global_facts",
            "\"What is\nmulti-line?\",w,x,y,z,A\nQ,w,x,y,z,B\n",
        ),
        ("anatomy", "Q1,w,x,y,z,A\nQ2,w,x,y,z,A\nQ3,w,x,y,z,D\n"),
    ] {
        write(&d.join(format!("mmlu/data/dev/{subject}_dev.csv")), dev);
        write(&d.join(format!("mmlu/data/test/{subject}_test.csv")), test);
    }
    let pair = |good: &str, bad: &str| {
        format!("{{\"sentence_good\": \"{good}\", \"sentence_bad\": \"{bad}\"}}\n")
    };
    write(
        &d.join("blimp/data/passive_1.jsonl"),
        &(pair("Ok.", "Not ok.") + &pair("Longer one.", "Short.")),
    );
    write(
        &d.join("blimp/data/drop_argument.jsonl"),
        &pair("A b.", "A b c."),
    );
    d
}

#[test]
fn runs_tasks_and_groups_and_writes_results() {
    let data = data_dir("eval-data-a");
    let specs = [
        TaskSpec::named("arithmetic_2ds"),
        TaskSpec {
            name: "mmlu".into(),
            subset: Some(vec!["global_facts".into(), "anatomy".into()]),
            num_fewshot: Some(2),
        },
        TaskSpec {
            name: "blimp".into(),
            subset: Some(vec!["passive_1".into(), "drop_argument".into()]),
            num_fewshot: None,
        },
    ];
    let plan = resolve(&specs).expect("plan");
    let mut opts = EvalOptions::new(&data);
    opts.docs_per_call = 2;
    let mut toy = Toy::default();
    let mut seen = Vec::new();
    let out = evaluate(&mut toy, &Chars, &plan, &opts, &mut |p| {
        seen.push((p.task.to_string(), p.docs_done))
    })
    .expect("evaluation runs");
    let r = &out.report;
    // arithmetic: " 3" is greedy for problems 0 and 2 → 2/3.
    let arith = r.score("arithmetic_2ds").expect("score");
    assert_eq!((arith.n, arith.value), (3, 2.0 / 3.0));
    // stderr of [1, 0, 1]: sample std sqrt(1/3) over sqrt(3) = 1/3.
    assert!((arith.stderr.expect("stderr") - 1.0 / 3.0).abs() < 1e-12);
    // MMLU: all choices tie, argmax = A: global_facts 1/2, anatomy 2/3; other and stem categories.
    assert_eq!(r.score("mmlu_global_facts").expect("gf").value, 0.5);
    assert_eq!(r.score("mmlu_other").expect("other").value, 0.5);
    assert_eq!(r.score("mmlu_stem").expect("stem").value, 2.0 / 3.0);
    let mmlu = r.score("mmlu").expect("group");
    assert!(
        (mmlu.value - (0.5 * 2.0 + 2.0 / 3.0 * 3.0) / 5.0).abs() < 1e-12,
        "weighted by size"
    );
    assert_eq!(mmlu.n, 5);
    // BLiMP: the shorter sentence wins: passive_1 1/2, drop_argument 1/1 → unweighted 0.75.
    let blimp = r.score("blimp").expect("group");
    assert_eq!((blimp.value, blimp.weight_by_size), (0.75, Some(false)));
    // One sample per document, with the few-shot prompt as lm-evaluation-harness builds it.
    assert_eq!(out.samples.len(), 3 + 5 + 3);
    let gf = out
        .samples
        .iter()
        .find(|s| s.task == "mmlu_global_facts")
        .expect("sample");
    assert_eq!(
        gf.context,
        "The following are multiple choice questions (with answers) about global facts.\n\n\
         Q, one?\nA. a\nB. bb\nC. c\nD. d\nAnswer: A\n\nQ2\nA. a\nB. b\nC. c\nD. d\nAnswer: C\n\n\
         What is\nmulti-line?\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    );
    assert_eq!(gf.continuations, [" A", " B", " C", " D"]);
    let b = out
        .samples
        .iter()
        .find(|s| s.task == "blimp_passive_1")
        .expect("sample");
    assert_eq!((b.context_tokens, b.continuations[0].as_str()), (1, " Ok."));
    // Two documents per call; each document's continuations share one context.
    assert!(toy.contexts_per_call.iter().all(|&n| n <= 2));
    assert!(seen.contains(&("mmlu_anatomy".to_string(), 3)));

    let run = temp_dir("eval-run");
    out.write(&run).expect("written");
    assert_eq!(EvalReport::read(&run).expect("read back"), out.report);
    let lines = std::fs::read_to_string(run.join(SAMPLES_JSONL)).expect("samples");
    let back: Vec<SampleRecord> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    assert_eq!(back, out.samples);
    let table = out.report.table().render(Format::Table);
    assert!(
        table.contains("mmlu (group)") && table.contains("arithmetic_2ds"),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn report_puts_runs_side_by_side() {
    let data = data_dir("eval-data-b");
    let sweep = temp_dir("eval-sweep");
    for (name, tasks) in [
        ("r8", vec!["arithmetic_2ds"]),
        ("r16", vec!["arithmetic_2ds", "blimp_passive_1"]),
    ] {
        let specs: Vec<TaskSpec> = tasks.iter().map(|t| TaskSpec::named(t)).collect();
        let out = evaluate(
            &mut Toy::default(),
            &Chars,
            &resolve(&specs).expect("plan"),
            &EvalOptions::new(&data),
            &mut |_| {},
        )
        .expect("runs");
        let dir = sweep.join(name);
        out.write(&dir).expect("written");
        write(
            &dir.join("summary.json"),
            &format!(
                "{{\"swept\": {{\"lora.r\": {}}}, \"loss\": [3.0, 2.0], \"wall_s\": 1.5}}",
                &name[1..]
            ),
        );
    }
    let runs = collect_runs(std::slice::from_ref(&sweep)).expect("runs found");
    assert_eq!(runs.len(), 2);
    let table = build_table(&runs, false, true, false);
    assert_eq!(
        table.header[..3],
        ["run".to_string(), "swept.lora.r".into(), "wall_s".into()]
    );
    assert!(table.header.contains(&"blimp_passive_1 (acc)".to_string()));
    assert!(
        !table.header.iter().any(|h| h.starts_with("loss")),
        "arrays are left out"
    );
    let csv = build_table(&runs, false, true, true).render(Format::Csv);
    assert!(
        csv.lines()
            .next()
            .expect("header")
            .contains("arithmetic_2ds stderr"),
        "{csv}"
    );
    let row = &table.rows[1]; // natural order: r8, then r16
    assert!(row[0].ends_with("r16") && row[1] == "16", "{row:?}");
    // A directory with no results is a diagnostic naming it.
    let empty = temp_dir("eval-empty");
    let err = collect_runs(std::slice::from_ref(&empty)).unwrap_err();
    assert!(
        matches!(err, EvalError::Results { ref path, .. } if *path == empty),
        "{err}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(sweep.join("r8"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(
        leftovers.len(),
        3,
        "eval.json, samples.jsonl, summary.json and no temporary file"
    );
    assert!(sweep.join("r8").join(EVAL_JSON).is_file());
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&sweep);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn data_problems_name_the_file_and_line() {
    let data = data_dir("eval-data-c");
    write(
        &data.join("mmlu/data/test/anatomy_test.csv"),
        "Q1,w,x,y,z,A\nQ2,w,x,y,z,E\n",
    );
    let plan = resolve(&[TaskSpec {
        name: "mmlu_anatomy".into(),
        subset: None,
        num_fewshot: Some(2),
    }])
    .expect("plan");
    let err = evaluate(
        &mut Toy::default(),
        &Chars,
        &plan,
        &EvalOptions::new(&data),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("anatomy_test.csv:2"), "{err}");
    write(
        &data.join("blimp/data/passive_1.jsonl"),
        "{\"sentence_good\": \"a\", \"sentence_bad\": \"b\"}\n{\"sentence_good\": 1}\n",
    );
    let plan = resolve(&[TaskSpec::named("blimp_passive_1")]).expect("plan");
    let err = evaluate(
        &mut Toy::default(),
        &Chars,
        &plan,
        &EvalOptions::new(&data),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("passive_1.jsonl:2"), "{err}");
    let plan = resolve(&[TaskSpec::named("truthfulqa_mc1")]).expect("plan");
    let err = evaluate(
        &mut Toy::default(),
        &Chars,
        &plan,
        &EvalOptions::new(&data),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, EvalError::DataMissing { ref path, .. } if path.ends_with("truthfulqa/data/mc_task.json"))
    );
    let plan = resolve(&[TaskSpec {
        name: "mmlu_anatomy".into(),
        subset: None,
        num_fewshot: Some(3),
    }])
    .expect("plan");
    let err = evaluate(
        &mut Toy::default(),
        &Chars,
        &plan,
        &EvalOptions::new(&data),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, EvalError::InvalidOption { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}

/// A scorer error reaches the user with the model's own diagnostic attached.
#[test]
fn scorer_failures_keep_the_model_diagnostic() {
    struct Failing;
    impl Scorer for Failing {
        type Error = ToyError;
        fn loglikelihood(&mut self, _: &[Request]) -> Result<Vec<LogLikelihood>, ToyError> {
            Err(ToyError)
        }
    }
    let data = data_dir("eval-data-d");
    let plan = resolve(&[TaskSpec::named("arithmetic_2ds")]).expect("plan");
    let err = evaluate(
        &mut Failing,
        &Chars,
        &plan,
        &EvalOptions::new(&data),
        &mut |_| {},
    )
    .unwrap_err();
    let related: Vec<String> = miette::Diagnostic::related(&err)
        .expect("related")
        .map(|d| d.code().map(|c| c.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(related, ["lpipe::E399"]);
    let _ = std::fs::remove_dir_all(&data);
}
