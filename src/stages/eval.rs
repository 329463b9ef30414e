//! The `eval` stage: lm-evaluation-harness tasks through [`ModelScorer`], plus `heldout`, the
//! exact match of greedy answers on the dataset's held-out questions, on the base model (results
//! in `<sweep>/base/`, cached on disk for every run and process of the sweep) or on the base with
//! the trained adapter (results in the run directory and its summary).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;

use serde::{Deserialize, Serialize};

use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::data::record::Record;
use crate::data::template::Template;
use crate::eval::model_scorer::ModelScorer;
use crate::eval::{EvalOptions, EvalOutput, EvalReport, evaluate, resolve};
use crate::ir::{self, EvalOn};
use crate::nn::Llama;
use crate::plan::graph::Node;
use crate::tokenizer::Tokenizer;

/// One eval block on one model.
pub struct EvalStage<'a> {
    eval: Option<&'a ir::Eval>,
    on: EvalOn,
    node: String,
}

impl<'a> EvalStage<'a> {
    /// The stage of graph node `node` (`eval.NAME`, `@base`/`@adapter` when it runs on both).
    pub fn new(node: &Node, cfg: &'a ir::RunConfig) -> Self {
        let name = node.stage.strip_prefix("eval.").unwrap_or("eval");
        let eval = cfg.evals.iter().find(|e| e.name == name);
        let on = if node.name.ends_with("@base") {
            EvalOn::Base
        } else if node.name.ends_with("@adapter") {
            EvalOn::Adapter
        } else {
            eval.and_then(|e| e.on.first().copied())
                .unwrap_or(EvalOn::Adapter)
        };
        EvalStage {
            eval,
            on,
            node: node.name.clone(),
        }
    }
}

/// What `<sweep>/base/cache_key` records for each base evaluation: the key it was computed under
/// and which scores and samples of the directory's files are its own.
#[derive(Default, Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    scores: Vec<String>,
    samples: Vec<String>,
}

impl Stage for EvalStage<'_> {
    fn settings(&self) -> String {
        format!(
            "{}|{:?}",
            serde_json::to_string(&self.eval).unwrap_or_default(),
            self.on
        )
    }

    fn shared(&self) -> bool {
        self.on == EvalOn::Base
    }

    fn run(&self, cx: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError> {
        let eval = self.eval.ok_or_else(|| super::missing("its eval block"))?;
        let (model, base) = match (self.on, inputs.trained()) {
            (EvalOn::Adapter, Some(t)) => (t.model.model.valid(), t.base.clone()),
            (EvalOn::Base, _) => {
                let base = inputs.base()?;
                (base.loaded.model.valid(), base)
            }
            _ => return Err(super::missing("a trained adapter")),
        };
        let data = inputs.tokenized();
        let eval_inputs = EvalInputs {
            tokenizer: &*base.tokenizer,
            heldout: data
                .as_ref()
                .filter(|d| !d.prepared.heldout.is_empty())
                .map(|d| (d.prepared.heldout.as_slice(), &d.template)),
            data_dir: cx.data_dir.clone(),
            prefix_token: base.prefix_token,
            progress: cx.progress,
        };
        let (dir, what) = match self.on {
            EvalOn::Base => (cx.sweep_dir().join("base"), "eval on base"),
            EvalOn::Adapter => (cx.dir.root().to_path_buf(), "eval"),
        };
        // On disk, a base evaluation is keyed by content (the weights, not their path), so every
        // process of a sweep and every later invocation finds it.
        let key_file = dir.join("cache_key");
        let disk_key = crate::data::alpaca::hex_sha256(
            format!(
                "{}\n{}\n{:?}",
                base.weights_id,
                self.settings(),
                data.as_ref().map(|d| &d.prepared.key)
            )
            .as_bytes(),
        );
        let mut entries: BTreeMap<String, CacheEntry> = std::fs::read_to_string(&key_file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let short = disk_key.get(..12).unwrap_or(&disk_key);
        if self.on == EvalOn::Base
            && let Some(entry) = entries.get(&self.node).filter(|e| e.key == disk_key)
            && let Some(mut out) = cached(&dir, entry)
        {
            log(format!(
                "{what}: cached (key {short}, same weights, tasks and data), not run again; {}",
                dir.display()
            ));
            merge(cx, &dir, &mut out);
            board(cx, self.on, &out);
            return Ok(Artifact::Done);
        }
        let t = Instant::now();
        let mut out = run(&model, eval, &eval_inputs)?;
        print!("{}", out.report.table().render(crate::eval::Format::Table));
        let entry = CacheEntry {
            key: disk_key.clone(),
            scores: out.report.scores.iter().map(|s| s.name.clone()).collect(),
            samples: out
                .samples
                .iter()
                .map(|s| s.task.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        board(cx, self.on, &out);
        let merged = merge(cx, &dir, &mut out);
        write(merged, &dir)?;
        if self.on == EvalOn::Base {
            entries.insert(self.node.clone(), entry);
            let text = serde_json::to_string_pretty(&entries).unwrap_or_default();
            crate::io::write_atomic(&key_file, text.as_bytes())
                .map_err(|e| ExecError::write(&key_file, e))?;
            log(format!(
                "{what}: done in {:.1}s and cached (key {short}); {}",
                t.elapsed().as_secs_f64(),
                dir.display()
            ));
        } else {
            let scores = serde_json::to_value(&merged.report.scores).unwrap_or_default();
            cx.summary.insert("eval".into(), scores);
        }
        Ok(Artifact::Done)
    }
}

/// The scores as TensorBoard scalars in the run directory (`eval/<on>/<task>/<metric>`), at the
/// run's last optimizer step for the adapter and at step 0 for the base.
fn board(cx: &Context, on: EvalOn, out: &EvalOutput) {
    let enabled = cx.run.config.train.as_ref().is_none_or(|t| t.tensorboard);
    let (on, step) = match on {
        EvalOn::Base => ("base", 0),
        EvalOn::Adapter => (
            "adapter",
            cx.summary
                .get("train")
                .and_then(|t| t.get("steps"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
        ),
    };
    let tags: Vec<(String, f64)> = out
        .report
        .scores
        .iter()
        .map(|s| (format!("eval/{on}/{}/{}", s.name, s.metric), s.value))
        .collect();
    let values: Vec<(&str, f64)> = tags.iter().map(|(t, v)| (t.as_str(), *v)).collect();
    super::tensorboard::Board::open(enabled && !values.is_empty(), cx.dir.root())
        .scalars(step, &values);
}

/// Adds `out` to what this run's evaluations put in `dir` (one `eval.json` per directory).
fn merge<'c>(cx: &'c mut Context, dir: &Path, out: &mut EvalOutput) -> &'c EvalOutput {
    let merged = cx
        .evals
        .entry(dir.to_path_buf())
        .or_insert_with(|| EvalOutput {
            report: EvalReport {
                scores: Vec::new(),
                wall_s: 0.0,
                ..out.report.clone()
            },
            samples: Vec::new(),
        });
    merged.report.scores.append(&mut out.report.scores);
    merged.report.wall_s += out.report.wall_s;
    merged.samples.append(&mut out.samples);
    merged
}

/// This node's scores and samples from the directory's files, when both are there.
fn cached(dir: &Path, entry: &CacheEntry) -> Option<EvalOutput> {
    let mut report = EvalReport::read(dir).ok()?;
    report.scores.retain(|s| entry.scores.contains(&s.name));
    if report.scores.len() != entry.scores.len() {
        return None;
    }
    let samples = crate::eval::results::read_samples(dir)
        .ok()?
        .into_iter()
        .filter(|s| entry.samples.contains(&s.task))
        .collect();
    Some(EvalOutput { report, samples })
}

/// What an eval stage needs besides the model.
pub struct EvalInputs<'a> {
    /// The tokenizer.
    pub tokenizer: &'a dyn Tokenizer,
    /// Held-out records for the `heldout` task, and the template that prompts them.
    pub heldout: Option<(&'a [Record], &'a Template)>,
    /// Default data directory (`../shared/data` layout) when the stage names none.
    pub data_dir: PathBuf,
    /// Token standing in for an empty context (the harness uses BOS; see `eval::prefix`).
    pub prefix_token: Option<u32>,
    /// Show progress bars.
    pub progress: bool,
}

/// Runs one eval stage on `model`, returning `eval.json`'s report and the scored samples.
pub fn run(model: &Llama, eval: &ir::Eval, inputs: &EvalInputs) -> Result<EvalOutput, ExecError> {
    let start = Instant::now();
    let specs = crate::eval::registry::task_specs(eval);
    let mut output = if specs.is_empty() {
        EvalOutput {
            report: EvalReport {
                format: crate::eval::results::FORMAT_VERSION,
                scores: Vec::new(),
                limit: eval.limit.map(|l| l as usize),
                seed: Some(eval.seed),
                data_dir: inputs.data_dir.clone(),
                wall_s: 0.0,
                model: serde_json::Value::Null,
            },
            samples: Vec::new(),
        }
    } else {
        let plan = resolve(&specs)?;
        let mut opts = EvalOptions::new(
            eval.data_dir
                .clone()
                .unwrap_or_else(|| inputs.data_dir.clone()),
        );
        opts.limit = eval.limit.map(|l| l as usize);
        opts.seed = eval.limit.map(|_| eval.seed);
        opts.docs_per_call = (eval.batch_size as usize).max(1);
        opts.prefix_token = inputs.prefix_token.or(inputs.tokenizer.bos_id());
        let mut scorer = ModelScorer::new(model);
        if inputs.progress {
            evaluate(
                &mut scorer,
                inputs.tokenizer,
                &plan,
                &opts,
                &mut crate::eval::progress_bar(),
            )?
        } else {
            evaluate(
                &mut scorer,
                inputs.tokenizer,
                &plan,
                &opts,
                &mut crate::eval::progress_log(),
            )?
        }
    };
    for task in &eval.tasks {
        if let ir::Task::Heldout { max_new_tokens } = task {
            let Some((records, template)) = inputs.heldout else {
                return Err(ExecError::Unsupported {
                    what: "the `heldout` task needs a dataset with held-out records".into(),
                    help: "add a `dataset` block (its validation split is used)".into(),
                });
            };
            let limit = eval.limit.map_or(records.len(), |l| l as usize);
            let (score, mut samples) = crate::eval::heldout::score(
                model,
                inputs.tokenizer,
                &records[..limit.min(records.len())],
                template,
                *max_new_tokens as usize,
            )?;
            output.report.scores.push(score);
            output.samples.append(&mut samples);
        }
    }
    output.report.wall_s = start.elapsed().as_secs_f64();
    Ok(output)
}

/// Writes a stage's results into `dir` (`eval.json` and `samples.jsonl`).
pub fn write(output: &EvalOutput, dir: &Path) -> Result<(), ExecError> {
    std::fs::create_dir_all(dir).map_err(|e| ExecError::write(dir, e))?;
    output.write(dir)?;
    Ok(())
}
