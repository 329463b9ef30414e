//! The stage graph: petgraph DAG of the stages of one run, with edges from data flow and from
//! `after = [...]` references. A cycle is returned as the list of stages on it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
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

/// The stage DAG of one run.
#[derive(Clone, Debug)]
pub struct StageGraph {
    /// Nodes are stages; an edge a → b means b needs a.
    pub graph: DiGraph<Node, ()>,
}

impl StageGraph {
    /// Builds the graph; `Err` holds the stage names around a cycle (first repeated at the end).
    pub fn build(config: &RunConfig) -> Result<StageGraph, Vec<String>> {
        let mut g: DiGraph<Node, ()> = DiGraph::new();
        let add = |g: &mut DiGraph<Node, ()>, name: &str, stage: &str, kind: NodeKind| {
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
            g.add_edge(d, t, ());
            t
        });
        let model = add(&mut g, "model", "model", NodeKind::Model);
        let mut base = model;
        if config.quantize.is_some() {
            let q = add(&mut g, "quantize", "quantize", NodeKind::Quantize);
            g.add_edge(model, q, ());
            base = q;
        }
        let lora = config.lora.as_ref().map(|_| {
            let l = add(&mut g, "lora", "lora", NodeKind::Lora);
            g.add_edge(base, l, ());
            l
        });
        let train = config.train.as_ref().map(|_| {
            let t = add(&mut g, "train", "train", NodeKind::Train);
            for dep in [tokenize, lora].into_iter().flatten() {
                g.add_edge(dep, t, ());
            }
            t
        });
        let mut evals = Vec::new();
        for eval in &config.evals {
            let stage = if eval.name == "eval" {
                "eval".to_string()
            } else {
                format!("eval.{}", eval.name)
            };
            for on in &eval.on {
                let name = if eval.on.len() > 1 {
                    format!(
                        "{stage}@{}",
                        if *on == EvalOn::Base {
                            "base"
                        } else {
                            "adapter"
                        }
                    )
                } else {
                    stage.clone()
                };
                let e = add(&mut g, &name, &stage, NodeKind::Eval);
                let dep = match on {
                    EvalOn::Base => Some(base),
                    EvalOn::Adapter => train,
                };
                // Benchmarks bring their own data; only `heldout` scores the tokenized split.
                let heldout = eval.tasks.iter().any(|t| matches!(t, Task::Heldout { .. }));
                let data = if heldout { tokenize } else { None };
                for d in [dep, data].into_iter().flatten() {
                    g.add_edge(d, e, ());
                }
                evals.push(e);
            }
        }
        if config.export.is_some() {
            let x = add(&mut g, "export", "export", NodeKind::Export);
            if let Some(t) = train {
                g.add_edge(t, x, ());
            }
        }
        if config.report.is_some() {
            let r = add(&mut g, "report", "report", NodeKind::Report);
            for d in evals.iter().copied().chain(train) {
                g.add_edge(d, r, ());
            }
        }
        for (stage, after) in &config.after {
            let targets: Vec<NodeIndex> =
                g.node_indices().filter(|i| g[*i].stage == *stage).collect();
            let sources: Vec<NodeIndex> =
                g.node_indices().filter(|i| g[*i].stage == *after).collect();
            for s in &sources {
                for t in &targets {
                    g.update_edge(*s, *t, ());
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
