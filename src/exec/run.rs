//! `lpipe run`: each selected run of a checked pipeline is its stage graph, walked in
//! topological order (`after` edges included). A node whose cache key this process has computed
//! before is not run again: the points of a sweep share what their keys say they share (the base
//! model, quantized weights, tokenized data, base evaluation), and only the results the current
//! point uses are kept in memory. A stopped node (Ctrl-C, `max_time`) stops the nodes after it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::ir::{Pipeline, Run};
use crate::plan::graph::{Edge, StageGraph};
use crate::stages::rundir::{RunDir, RunOutcome, finish};
use crate::stages::{Artifact, Context, ExecError, Inputs, Key, log};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Only this sweep point (0-based), as a Slurm array task runs.
    pub point: Option<usize>,
    /// Re-run runs whose `summary.json` exists.
    pub force: bool,
    /// Where evaluation data lives when an eval stage names none.
    pub data_dir: PathBuf,
    /// Draw progress bars (off for tests and non-terminals).
    pub progress: bool,
    /// Most runs at once (separate processes, as memory allows); 1 runs them in this process.
    pub jobs: usize,
    /// The `--set` overrides the pipeline was checked with (forwarded to `--jobs` processes).
    pub sets: Vec<String>,
}

/// Exit status of `lpipe run` when a run stopped at its `max_time` (sysexits' EX_TEMPFAIL: run
/// the same command again to continue).
pub const EXIT_TIMED_OUT: i32 = 75;

/// Finished nodes' results by key, for the points this process runs in turn.
#[derive(Default)]
pub struct Store {
    done: HashMap<Key, (Artifact, String)>,
    /// Every key computed, held or not (their files stay in the on-disk caches).
    seen: HashSet<Key>,
}

/// Runs `indices` one after another in this process, sharing results through one [`Store`].
pub(crate) fn run_points(
    pipeline: &Pipeline,
    indices: &[usize],
    opts: &RunOptions,
    stop: &AtomicBool,
) -> Result<Vec<RunOutcome>, ExecError> {
    let mut store = Store::default();
    let (mut outcomes, mut failed) = (Vec::new(), Vec::new());
    for run in indices.iter().filter_map(|&i| pipeline.runs.get(i)) {
        match run_point(pipeline, run, opts, stop, &mut store, false) {
            Ok(outcome) => {
                // Ctrl-C stops the sweep; a point's own `max_time` stops only that point.
                let stop_all = outcome.interrupted && !outcome.timed_out;
                outcomes.push(outcome);
                if stop_all {
                    break;
                }
            }
            Err(err) if indices.len() > 1 => {
                let message = err.to_string();
                eprintln!("{:?}", miette::Report::new(err));
                log(format!(
                    "run {}: failed; continuing with the others",
                    run.name
                ));
                failed.push((run.name.clone(), message));
            }
            Err(err) => return Err(err),
        }
    }
    finish(outcomes, failed, indices.len())
}

/// Executes one run's graph. With `shared_only`, only the nodes shared by every run with the same
/// settings (model, quantization, data, base evaluation) run: `--jobs` prepares them once before
/// starting the run processes, which then find them in the on-disk caches.
pub(crate) fn run_point(
    pipeline: &Pipeline,
    run: &Run,
    opts: &RunOptions,
    stop: &AtomicBool,
    store: &mut Store,
    shared_only: bool,
) -> Result<RunOutcome, ExecError> {
    let dir = RunDir::for_run(pipeline, run)?;
    let _lock = (!shared_only).then(|| dir.lock()).transpose()?;
    if !shared_only {
        if let Some(skipped) = dir.finished_earlier(run, opts.force) {
            return Ok(skipped);
        }
        dir.start(run)?;
    }
    let graph = StageGraph::build(&run.config).map_err(|cycle| ExecError::Unsupported {
        what: format!("the stages form a cycle: {}", cycle.join(" → ")),
        help: "`lpipe check` reports the `after` entries that close it".into(),
    })?;
    let (g, order) = (&graph.graph, graph.order());
    let (stages, keys) = crate::stages::keyed(&graph, &order, pipeline, run);
    // Hold one point's results at a time: what this point does not use is freed first.
    let used: HashSet<&Key> = keys.values().collect();
    store.done.retain(|k, _| used.contains(k));
    // With `shared_only`, only shared nodes count; the nodes they lead to run in their processes.
    let counts = |n: NodeIndex| !shared_only || stages[&n].shared();
    let held = |n: NodeIndex| match shared_only {
        true => store.seen.contains(&keys[&n]),
        false => store.done.contains_key(&keys[&n]),
    };
    let need = graph.needed(&order, counts, held);

    let mut cx = Context::new(pipeline, run, dir.clone(), opts.data_dir.clone(), stop);
    cx.progress = opts.progress;
    cx.single_point = opts.point.is_some();
    let mut stopped: HashSet<NodeIndex> = HashSet::new();
    for (at, &n) in order.iter().enumerate() {
        let (node, key) = (&g[n], &keys[&n]);
        if !need.contains(&n) {
            if let Some((_, from)) = store.done.get(key).filter(|_| !shared_only) {
                let short = key.short();
                log(format!(
                    "{}: reused from run {from} (key {short}), not run again",
                    node.name
                ));
            }
            continue;
        }
        if g.neighbors_directed(n, Incoming)
            .any(|p| stopped.contains(&p))
        {
            stopped.insert(n);
            continue;
        }
        let stage = &stages[&n];
        let mut inputs = Vec::new();
        for i in graph.inputs(n) {
            // A stage that transforms its input takes it, once no later node of this point reads it.
            let later_reader = g
                .edges_directed(i, Outgoing)
                .filter(|e| *e.weight() == Edge::Data && e.target() != n)
                .any(|e| need.contains(&e.target()) && order[at..].contains(&e.target()));
            let held = if stage.consumes_input() && !later_reader {
                store.done.remove(&keys[&i])
            } else {
                store.done.get(&keys[&i]).cloned()
            };
            let Some((artifact, _)) = held else {
                return Err(ExecError::Unsupported {
                    what: format!("`{}` ran before its input `{}`", node.name, g[i].name),
                    help: "this is a bug in lpipe's executor; please report it".into(),
                });
            };
            inputs.push(artifact);
        }
        match stage.run(&mut cx, Inputs(inputs))? {
            Artifact::Stopped => {
                stopped.insert(n);
            }
            artifact => {
                store.seen.insert(key.clone());
                store.done.insert(key.clone(), (artifact, run.name.clone()));
            }
        }
    }
    if !shared_only && cx.stopped.is_none() {
        crate::stages::summary::write(&cx)?;
    }
    Ok(RunOutcome::new(run, &dir, false, cx.stopped))
}
