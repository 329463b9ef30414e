//! The stage graph: petgraph DAG of the stages of one run, with edges from data flow and from
//! `after = [...]` references. A cycle is returned as the list of stages on it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};

use crate::ir::{EvalOn, RunConfig, Task};

/// What a node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Read or generate records.
    Dataset,
    /// Apply the template and tokenize.
    Tokenize,
    /// Load the base checkpoint.
    Model,
    /// Quantize the frozen base to 4 bits.
    Quantize,
    /// Attach LoRA adapters.
    Lora,
    /// Train the adapters.
    Train,
    /// Evaluate (base or adapter).
    Eval,
    /// Write the adapter (and merged weights).
    Export,
    /// Tabulate results.
    Report,
}

/// A stage in the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Display name, unique: `train`, `eval.before`, `eval.after@adapter`.
    pub name: String,
    /// The stage block it comes from (`eval.before`), as `after` refers to it.
    pub stage: String,
    /// What it does.
    pub kind: NodeKind,
}

/// Why b comes after a.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    /// b reads a's result.
    Data,
    /// b was declared `after = [a]`: order only.
    After,
}

/// The stage DAG of one run.
#[derive(Clone, Debug)]
pub struct StageGraph {
    /// Nodes are stages; an edge a → b means b needs a.
    pub graph: DiGraph<Node, Edge>,
}

/// Adds a node per eval block that runs `on` that model (reading `dep`, and the tokenized data
/// for `heldout`), collecting them in `evals`.
fn add_evals(
    g: &mut DiGraph<Node, Edge>,
    config: &RunConfig,
    on: EvalOn,
    dep: Option<NodeIndex>,
    tokenize: Option<NodeIndex>,
    evals: &mut Vec<NodeIndex>,
) {
    for eval in config.evals.iter().filter(|e| e.on.contains(&on)) {
        let stage = if eval.name == "eval" {
            "eval".to_string()
        } else {
            format!("eval.{}", eval.name)
        };
        let name = match (eval.on.len() > 1, on) {
            (false, _) => stage.clone(),
            (true, EvalOn::Base) => format!("{stage}@base"),
            (true, EvalOn::Adapter) => format!("{stage}@adapter"),
        };
        let e = g.add_node(Node {
            name,
            stage,
            kind: NodeKind::Eval,
        });
        // Benchmarks bring their own data; only `heldout` scores the tokenized split.
        let heldout = eval.tasks.iter().any(|t| matches!(t, Task::Heldout { .. }));
        let data = if heldout { tokenize } else { None };
        for d in [dep, data].into_iter().flatten() {
            g.add_edge(d, e, Edge::Data);
        }
        evals.push(e);
    }
}

impl StageGraph {
    /// Builds the graph; `Err` holds the stage names around a cycle (first repeated at the end).
    pub fn build(config: &RunConfig) -> Result<StageGraph, Vec<String>> {
        let mut g: DiGraph<Node, Edge> = DiGraph::new();
        let add = |g: &mut DiGraph<Node, Edge>, name: &str, stage: &str, kind: NodeKind| {
            g.add_node(Node {
                name: name.to_string(),
                stage: stage.to_string(),
                kind,
            })
        };
        let dataset = config
            .dataset
            .as_ref()
            .map(|_| add(&mut g, "dataset", "dataset", NodeKind::Dataset));
        let tokenize = dataset.map(|d| {
            let t = add(&mut g, "tokenize", "tokenize", NodeKind::Tokenize);
            g.add_edge(d, t, Edge::Data);
            t
        });
        let model = add(&mut g, "model", "model", NodeKind::Model);
        // The tokenizer comes with the model.
        if let Some(t) = tokenize {
            g.add_edge(model, t, Edge::Data);
        }
        let mut base = model;
        if config.quantize.is_some() {
            let q = add(&mut g, "quantize", "quantize", NodeKind::Quantize);
            g.add_edge(model, q, Edge::Data);
            base = q;
        }
        // Declaration order breaks ties in `order`: evaluations of the base come before the
        // adapters are made, the export right after training, evaluations of the adapter last.
        let mut evals = Vec::new();
        add_evals(
            &mut g,
            config,
            EvalOn::Base,
            Some(base),
            tokenize,
            &mut evals,
        );
        let lora = config.lora.as_ref().map(|_| {
            let l = add(&mut g, "lora", "lora", NodeKind::Lora);
            g.add_edge(base, l, Edge::Data);
            l
        });
        let train = config.train.as_ref().map(|_| {
            let t = add(&mut g, "train", "train", NodeKind::Train);
            for dep in [tokenize, lora].into_iter().flatten() {
                g.add_edge(dep, t, Edge::Data);
            }
            t
        });
        if config.export.is_some() {
            let x = add(&mut g, "export", "export", NodeKind::Export);
            if let Some(t) = train {
                g.add_edge(t, x, Edge::Data);
            }
        }
        add_evals(&mut g, config, EvalOn::Adapter, train, tokenize, &mut evals);
        if config.report.is_some() {
            let r = add(&mut g, "report", "report", NodeKind::Report);
            for d in evals.iter().copied().chain(train) {
                g.add_edge(d, r, Edge::Data);
            }
        }
        for (stage, after) in &config.after {
            let targets: Vec<NodeIndex> =
                g.node_indices().filter(|i| g[*i].stage == *stage).collect();
            let sources: Vec<NodeIndex> =
                g.node_indices().filter(|i| g[*i].stage == *after).collect();
            for s in &sources {
                for t in &targets {
                    if g.find_edge(*s, *t).is_none() {
                        g.add_edge(*s, *t, Edge::After);
                    }
                }
            }
        }
        let graph = StageGraph { graph: g };
        match graph.cycle() {
            Some(cycle) => Err(cycle),
            None => Ok(graph),
        }
    }

    /// A cycle's node names (first repeated at the end), if the graph has one.
    fn cycle(&self) -> Option<Vec<String>> {
        let g = &self.graph;
        for scc in tarjan_scc(g) {
            let Some(&start) = scc.iter().min() else {
                continue;
            };
            let self_loop = g.contains_edge(start, start);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            // Walk inside the component back to the start, preferring low indices for stability.
            let mut path = vec![start];
            let mut seen = vec![start];
            let mut current = start;
            while path.len() <= scc.len() {
                let mut next: Vec<NodeIndex> =
                    g.neighbors(current).filter(|n| scc.contains(n)).collect();
                next.sort();
                if next.contains(&start) && (path.len() > 1 || self_loop) {
                    path.push(start);
                    break;
                }
                let Some(n) = next.into_iter().find(|n| !seen.contains(n)) else {
                    break;
                };
                seen.push(n);
                path.push(n);
                current = n;
            }
            return Some(path.into_iter().map(|i| g[i].name.clone()).collect());
        }
        None
    }

    /// The nodes in execution order: topological, ties broken by declaration order.
    pub fn order(&self) -> Vec<NodeIndex> {
        let g = &self.graph;
        let mut indegree: Vec<usize> = g
            .node_indices()
            .map(|i| g.neighbors_directed(i, petgraph::Incoming).count())
            .collect();
        let mut ready: BinaryHeap<Reverse<NodeIndex>> = g
            .node_indices()
            .filter(|i| indegree.get(i.index()) == Some(&0))
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(g.node_count());
        while let Some(Reverse(n)) = ready.pop() {
            order.push(n);
            for m in g.neighbors(n) {
                if let Some(d) = indegree.get_mut(m.index()) {
                    *d = d.saturating_sub(1);
                    if *d == 0 {
                        ready.push(Reverse(m));
                    }
                }
            }
        }
        order
    }

    /// The nodes whose results `node` reads, in index order.
    pub fn inputs(&self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut inputs: Vec<NodeIndex> = self
            .graph
            .edges_directed(node, petgraph::Incoming)
            .filter(|e| *e.weight() == Edge::Data)
            .map(|e| e.source())
            .collect();
        inputs.sort();
        inputs
    }

    /// The nodes of `order` that must run: those not `held` whose result a node that must run
    /// reads, or that nothing reads (they write files). Only nodes that `count` take part, and none
    /// that must wait for one that does not.
    pub fn needed(
        &self,
        order: &[NodeIndex],
        count: impl Fn(NodeIndex) -> bool,
        held: impl Fn(NodeIndex) -> bool,
    ) -> std::collections::HashSet<NodeIndex> {
        let g = &self.graph;
        let mut need = std::collections::HashSet::new();
        for &n in order.iter().rev() {
            let mut readers = g
                .edges_directed(n, petgraph::Outgoing)
                .filter(|e| *e.weight() == Edge::Data && count(e.target()))
                .map(|e| e.target())
                .peekable();
            let read = readers.peek().is_none() || readers.any(|r| need.contains(&r));
            if count(n) && !held(n) && read {
                need.insert(n);
            }
        }
        need.retain(|n| g.neighbors_directed(*n, petgraph::Incoming).all(&count));
        need
    }

    /// The names of the nodes a node depends on.
    pub fn deps(&self, node: NodeIndex) -> Vec<String> {
        let mut deps: Vec<NodeIndex> = self
            .graph
            .neighbors_directed(node, petgraph::Incoming)
            .collect();
        deps.sort();
        deps.into_iter()
            .map(|d| self.graph[d].name.clone())
            .collect()
    }
}
