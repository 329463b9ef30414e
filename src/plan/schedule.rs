//! Execution order and per-run numbers (parameter counts, memory) for `lpipe plan`.

use serde::{Deserialize, Serialize};

use crate::ir::{Pipeline, RunConfig};
use crate::plan::graph::{NodeKind, StageGraph};

/// One stage in execution order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The node's name.
    pub name: String,
    /// What it does.
    pub kind: NodeKind,
    /// The stages it waits for.
    pub after: Vec<String>,
}

/// What the planner knows about one run without loading weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// The run's name.
    pub name: String,
    /// Its sweep point.
    pub point: Vec<(String, String)>,
    /// The architecture the numbers come from.
    pub arch: Option<String>,
    /// Trainable LoRA parameters.
    pub trainable: Option<u64>,
    /// Parameters of the base model.
    pub base_total: Option<u64>,
    /// Estimated peak memory in bytes.
    pub memory: Option<u64>,
    /// Why a number is missing, or a warning about it.
    pub note: Option<String>,
}

/// The plan of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Stages in execution order (the same for every run).
    pub steps: Vec<Step>,
    /// One entry per run.
    pub runs: Vec<RunPlan>,
}

/// Orders the stages and computes each run's numbers.
pub fn schedule(pipeline: &Pipeline) -> Result<Schedule, Vec<String>> {
    let Some(first) = pipeline.runs.first() else {
        return Ok(Schedule {
            steps: Vec::new(),
            runs: Vec::new(),
        });
    };
    let graph = StageGraph::build(&first.config)?;
    let steps = graph
        .order()
        .into_iter()
        .map(|i| Step {
            name: graph.graph[i].name.clone(),
            kind: graph.graph[i].kind,
            after: graph.deps(i),
        })
        .collect();
    let runs = pipeline
        .runs
        .iter()
        .map(|run| {
            let n = numbers(&run.config);
            RunPlan {
                name: run.name.clone(),
                point: run.point.clone(),
                arch: n.arch,
                trainable: n.trainable,
                base_total: n.base_total,
                memory: n.memory,
                note: n.note,
            }
        })
        .collect();
    Ok(Schedule { steps, runs })
}

/// Numbers for one run.
struct Numbers {
    arch: Option<String>,
    trainable: Option<u64>,
    base_total: Option<u64>,
    memory: Option<u64>,
    note: Option<String>,
}

fn numbers(config: &RunConfig) -> Numbers {
    Numbers {
        arch: config.model.arch.clone(),
        trainable: None,
        base_total: None,
        memory: None,
        note: Some("architecture table not wired in yet".into()),
    }
}
