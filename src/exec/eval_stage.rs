//! The evaluation stage: lm-evaluation-harness tasks through [`ModelScorer`], plus `heldout`, the
//! exact match of greedy answers on the dataset's held-out questions.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::error::ExecError;
use super::scorer::ModelScorer;
use crate::data::record::Record;
use crate::data::template::Template;
use crate::eval::metrics::{mean, mean_stderr};
use crate::eval::{
    EvalOptions, EvalOutput, EvalReport, SampleRecord, Scoring, TaskScore, TaskSpec, evaluate,
    resolve,
};
use crate::ir;
use crate::model::generate::{Sampling, generate};
use crate::nn::Llama;
use crate::tokenizer::Tokenizer;

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

/// lm-evaluation-harness task specs for the stage's tasks (all but `heldout`).
pub fn task_specs(eval: &ir::Eval) -> Vec<TaskSpec> {
    eval.tasks
        .iter()
        .filter_map(|task| match task {
            ir::Task::Heldout { .. } => None,
            ir::Task::Mmlu { subjects, shots } => Some(TaskSpec {
                name: "mmlu".into(),
                subset: (!subjects.is_empty()).then(|| subjects.clone()),
                num_fewshot: Some(*shots as usize),
            }),
            ir::Task::Blimp { paradigms } => Some(TaskSpec {
                name: "blimp".into(),
                subset: (!paradigms.is_empty()).then(|| paradigms.clone()),
                num_fewshot: None,
            }),
            other => Some(TaskSpec::named(&other.name())),
        })
        .collect()
}

/// Runs one eval stage on `model`, returning `eval.json`'s report and the scored samples.
pub fn run(model: &Llama, eval: &ir::Eval, inputs: &EvalInputs) -> Result<EvalOutput, ExecError> {
    let start = Instant::now();
    let specs = task_specs(eval);
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
            let (score, mut samples) = heldout(
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

/// Exact match of the greedy answer (up to EOS or `max_new_tokens`, whitespace-trimmed).
pub fn heldout(
    model: &Llama,
    tokenizer: &dyn Tokenizer,
    records: &[Record],
    template: &Template,
    max_new_tokens: usize,
) -> Result<(TaskScore, Vec<SampleRecord>), ExecError> {
    let start = Instant::now();
    let sampling = Sampling {
        max_new_tokens,
        stop: tokenizer.eos_id().into_iter().collect(),
        ..Sampling::default()
    };
    let mut values = Vec::with_capacity(records.len());
    let mut samples = Vec::with_capacity(records.len());
    let mut tokens = 0;
    for (doc_id, record) in records.iter().enumerate() {
        let prompt = template.prompt(record);
        let ids = tokenizer.encode(&prompt, false);
        let out = generate(model, &ids, &sampling, |_| {})?;
        tokens += ids.len() + out.len();
        let answer: Vec<u32> = out
            .into_iter()
            .filter(|t| Some(*t) != tokenizer.eos_id())
            .collect();
        let text = tokenizer.decode(&answer);
        let correct = text.trim() == record.output.trim();
        let value = if correct { 1.0 } else { 0.0 };
        values.push(value);
        samples.push(SampleRecord {
            task: "heldout".into(),
            doc_id,
            context: prompt,
            continuations: vec![text],
            context_tokens: ids.len(),
            continuation_tokens: vec![answer.len()],
            loglikelihoods: Vec::new(),
            is_greedy: vec![correct],
            target: Scoring::Greedy,
            pred: None,
            value,
        });
    }
    let score = TaskScore {
        name: "heldout".into(),
        metric: "exact_match".into(),
        value: mean(&values),
        stderr: mean_stderr(&values),
        n: values.len(),
        n_total: records.len(),
        num_fewshot: None,
        wall_s: start.elapsed().as_secs_f64(),
        tokens,
        members: Vec::new(),
        weight_by_size: None,
    };
    Ok((score, samples))
}

/// Writes a stage's results into `dir` (`eval.json` and `samples.jsonl`).
pub fn write(output: &EvalOutput, dir: &Path) -> Result<(), ExecError> {
    std::fs::create_dir_all(dir).map_err(|e| ExecError::write(dir, e))?;
    output.write(dir)?;
    Ok(())
}
