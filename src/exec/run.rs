//! `lpipe run`: each selected run of a checked pipeline is its stage graph, walked in
//! topological order (`after` edges included). A node whose cache key this process has computed
//! before is not run again: the points of a sweep share what their keys say they share (the base
//! model, quantized weights, tokenized data, base evaluation), and only the results the current
//! point uses are kept in memory. A stopped node (Ctrl-C, `max_time`) stops the nodes after it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::io::write_atomic;
use crate::ir::{Pipeline, Run};
use crate::plan::graph::{Edge, StageGraph};
use crate::stages::rundir::RunDir;
use crate::stages::{Artifact, Context, ExecError, Inputs, Key, Stage, log};

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

/// What one finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The run's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Skipped because it had finished before.
    pub skipped: bool,
    /// Stopped early by Ctrl-C or `max_time` (a checkpoint was written; re-run to resume).
    pub interrupted: bool,
    /// It was `max_time`.
    pub timed_out: bool,
}

impl RunOutcome {
    /// The outcome of `run` in `dir`; `stopped` is `Some(timed_out)` for a run stopped early.
    pub fn new(run: &Run, dir: &RunDir, skipped: bool, stopped: Option<bool>) -> Self {
        RunOutcome {
            name: run.name.clone(),
            dir: dir.root().to_path_buf(),
            skipped,
            interrupted: stopped.is_some(),
            timed_out: stopped == Some(true),
        }
    }
}

/// The skipped outcome of a run that finished before (its `summary.json` exists), unless `--force`.
pub(crate) fn finished_earlier(
    pipeline: &Pipeline,
    run: &Run,
    opts: &RunOptions,
) -> Result<Option<RunOutcome>, ExecError> {
    let dir = RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
        .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
    if !dir.is_finished() || opts.force {
        return Ok(None);
    }
    let summary = dir.summary();
    log(format!(
        "run {}: finished earlier ({}), skipped",
        run.name,
        summary.display()
    ));
    Ok(Some(RunOutcome::new(run, &dir, true, None)))
}

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

/// Prints the failed runs with their errors; an error when any failed.
pub(crate) fn finish(
    outcomes: Vec<RunOutcome>,
    failed: Vec<(String, String)>,
    total: usize,
) -> Result<Vec<RunOutcome>, ExecError> {
    if failed.is_empty() {
        return Ok(outcomes);
    }
    let finished = outcomes.len();
    eprintln!(
        "\nlpipe: {} of {total} runs failed ({finished} finished):",
        failed.len()
    );
    for (name, message) in &failed {
        eprintln!("  {name}: {message}");
    }
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    Err(ExecError::RunsFailed {
        failed: failed.len(),
        total,
        names: names.join(", "),
    })
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
    let dir = RunDir::create(&pipeline.runs_dir, &pipeline.name, &run.name)
        .map_err(|e| ExecError::write(&pipeline.runs_dir, e))?;
    let outcome = |skipped, stopped| RunOutcome::new(run, &dir, skipped, stopped);
    if !shared_only {
        if let Some(skipped) = finished_earlier(pipeline, run, opts)? {
            return Ok(skipped);
        }
        log(format!(
            "run {}: starting in {}",
            run.name,
            dir.root().display()
        ));
        let ron = ron::ser::to_string_pretty(run, ron::ser::PrettyConfig::default())
            .map_err(|e| ExecError::write(dir.ir(), std::io::Error::other(e)))?;
        write_atomic(&dir.ir(), ron.as_bytes()).map_err(|e| ExecError::write(dir.ir(), e))?;
    }
    let graph = StageGraph::build(&run.config).map_err(|cycle| ExecError::Unsupported {
        what: format!("the stages form a cycle: {}", cycle.join(" → ")),
        help: "`lpipe check` reports the `after` entries that close it".into(),
    })?;
    let g = &graph.graph;
    let order = graph.order();
    let stages: HashMap<NodeIndex, Box<dyn Stage + '_>> = order
        .iter()
        .map(|&n| (n, crate::stages::for_node(&g[n], pipeline, run)))
        .collect();
    let mut keys: HashMap<NodeIndex, Key> = HashMap::new();
    for &n in &order {
        let inputs: Vec<&Key> = graph.inputs(n).iter().filter_map(|i| keys.get(i)).collect();
        let key = stages[&n].key(g[n].kind, &run.name, &inputs);
        keys.insert(n, key);
    }
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

    let mut cx = Context {
        pipeline,
        run,
        dir: dir.clone(),
        data_dir: opts.data_dir.clone(),
        progress: opts.progress,
        single_point: opts.point.is_some(),
        stop,
        summary: serde_json::Map::new(),
        evals: Default::default(),
        stopped: None,
        started: Instant::now(),
    };
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
    Ok(outcome(false, cx.stopped))
}
