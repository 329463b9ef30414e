//! The stages `lpipe run` executes: one file per node kind of the stage graph
//! ([`crate::plan::graph`]). Each is a [`Stage`]: its own settings, which with its inputs' keys
//! make its cache key, and its work, done on a [`Context`]. The executor ([`crate::exec`]) walks
//! the graph in topological order and reuses any node whose key it has computed before, so the
//! points of a sweep share their base model, quantized weights, tokenized data and base
//! evaluation by construction.

pub mod context;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod export;
pub mod lora;
pub mod model;
pub mod quantize;
pub mod report;
pub mod rundir;
pub mod summary;
pub mod tensorboard;
pub mod tokenize;
pub mod train;

use std::collections::HashMap;
use std::rc::Rc;

use petgraph::graph::NodeIndex;

use sha2::{Digest, Sha256};

pub use context::{Context, log};
pub use error::ExecError;

use crate::ir::{Pipeline, Run};
use crate::plan::graph::{Node, NodeKind, StageGraph};

/// A node's cache key: equal keys mean equal results.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub String);

impl Key {
    /// The first 12 hex digits, for logs.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

/// What a node hands to the nodes that read it.
#[derive(Clone)]
pub enum Artifact {
    /// The dataset block with its paths resolved.
    Dataset(Rc<crate::ir::Dataset>),
    /// Tokenized, split examples.
    Tokenized(Rc<tokenize::Tokenized>),
    /// The base model (quantized after the quantize stage) and its tokenizer.
    Base(Rc<model::BaseModel>),
    /// The base with freshly initialised (or loaded) LoRA adapters.
    Adapter(Rc<lora::Adapted>),
    /// The trained adapter, saved in the run directory.
    Trained(Rc<lora::Adapted>),
    /// Files written; nothing to hand on.
    Done,
    /// Stopped early (Ctrl-C, `max_time`): the nodes after it do not run.
    Stopped,
}

/// One node's work.
pub trait Stage {
    /// What the result depends on besides the inputs, as text (serialized settings).
    fn settings(&self) -> String;

    /// Whether the result is the same for every run that has the same settings and inputs (the
    /// base model, its quantization, the data, the base evaluation); other nodes' keys also hold
    /// the run, since they write into its directory.
    fn shared(&self) -> bool {
        false
    }

    /// Whether it transforms its input rather than reading it (quantization replaces the dense
    /// weights): the executor then hands the input over instead of keeping a second copy.
    fn consumes_input(&self) -> bool {
        false
    }

    /// The cache key: this node's kind and settings, its inputs' keys, and for a stage that is
    /// not shared, the run.
    fn key(&self, kind: NodeKind, run: &str, inputs: &[&Key]) -> Key {
        let mut h = Sha256::new();
        h.update(format!("{kind:?}\n{}\n", self.settings()));
        for k in inputs {
            h.update(format!("{}\n", k.0));
        }
        if !self.shared() {
            h.update(format!("run {run}"));
        }
        Key(format!("{:x}", h.finalize()))
    }

    /// Does the work.
    fn run(&self, cx: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError>;
}

/// The results a node reads, from its data edges.
pub struct Inputs(pub Vec<Artifact>);

impl Inputs {
    /// The base model (from the model or quantize stage).
    pub fn base(&self) -> Result<Rc<model::BaseModel>, ExecError> {
        self.find(|a| match a {
            Artifact::Base(b) => Some(b.clone()),
            _ => None,
        })
        .ok_or_else(|| missing("a base model"))
    }

    /// The tokenized data, if the node reads it.
    pub fn tokenized(&self) -> Option<Rc<tokenize::Tokenized>> {
        self.find(|a| match a {
            Artifact::Tokenized(t) => Some(t.clone()),
            _ => None,
        })
    }

    /// The trained adapter, if the node reads it.
    pub fn trained(&self) -> Option<Rc<lora::Adapted>> {
        self.find(|a| match a {
            Artifact::Trained(t) => Some(t.clone()),
            _ => None,
        })
    }

    fn find<T>(&self, pick: impl Fn(&Artifact) -> Option<T>) -> Option<T> {
        self.0.iter().find_map(pick)
    }
}

/// A graph without an input its node needs: the graph builder and the stages disagree.
fn missing(what: &str) -> ExecError {
    ExecError::Unsupported {
        what: format!("a stage ran without {what}"),
        help: "this is a bug in lpipe's stage graph; please report it".into(),
    }
}

/// The stages of `run`'s graph and their keys, computed in `order` (inputs first).
pub fn keyed<'a>(
    graph: &StageGraph,
    order: &[NodeIndex],
    pipeline: &'a Pipeline,
    run: &'a Run,
) -> (
    HashMap<NodeIndex, Box<dyn Stage + 'a>>,
    HashMap<NodeIndex, Key>,
) {
    let g = &graph.graph;
    let stages: HashMap<NodeIndex, Box<dyn Stage + 'a>> = order
        .iter()
        .map(|&n| (n, for_node(&g[n], pipeline, run)))
        .collect();
    let mut keys: HashMap<NodeIndex, Key> = HashMap::new();
    for &n in order {
        let inputs: Vec<&Key> = graph.inputs(n).iter().filter_map(|i| keys.get(i)).collect();
        let key = stages[&n].key(g[n].kind, &run.name, &inputs);
        keys.insert(n, key);
    }
    (stages, keys)
}

/// The stage for graph node `node` of `run`.
pub fn for_node<'a>(node: &Node, pipeline: &'a Pipeline, run: &'a Run) -> Box<dyn Stage + 'a> {
    let cfg = &run.config;
    match (
        node.kind,
        &cfg.dataset,
        &cfg.quantize,
        &cfg.lora,
        &cfg.train,
    ) {
        (NodeKind::Dataset, Some(ds), ..) => Box::new(dataset::DatasetStage::new(ds, pipeline)),
        (NodeKind::Tokenize, ..) => Box::new(tokenize::TokenizeStage),
        (NodeKind::Model, ..) => Box::new(model::ModelStage::new(cfg, pipeline)),
        (NodeKind::Quantize, _, Some(q), ..) => Box::new(quantize::QuantizeStage { settings: q }),
        (NodeKind::Lora, _, _, Some(lora), train) => Box::new(lora::LoraStage {
            lora,
            seed: train.as_ref().map_or(0, |t| t.seed),
        }),
        (NodeKind::Train, _, _, _, Some(train)) => Box::new(train::TrainStage { train }),
        (NodeKind::Eval, ..) => Box::new(eval::EvalStage::new(node, cfg)),
        (NodeKind::Export, ..) => Box::new(export::ExportStage { cfg, pipeline }),
        (NodeKind::Report, ..) => Box::new(report::ReportStage { cfg, pipeline }),
        // The graph has a node only where the run has the block; this is never reached.
        (kind, ..) => Box::new(Missing(kind)),
    }
}

/// A node whose block the run lacks (unreachable: the graph is built from the same blocks).
struct Missing(NodeKind);

impl Stage for Missing {
    fn settings(&self) -> String {
        format!("{:?}", self.0)
    }

    fn run(&self, _: &mut Context, _: Inputs) -> Result<Artifact, ExecError> {
        Err(missing(&format!("its `{:?}` block", self.0)))
    }
}
