//! The `heldout` task: exact match of greedy answers on a dataset's held-out records, the
//! metric the quickstart reports before and after training.

use std::time::Instant;

use super::metrics::{mean, mean_stderr};
use super::{SampleRecord, Scoring, TaskScore};
use crate::data::record::Record;
use crate::data::template::Template;
use crate::model::error::ModelError;
use crate::model::generate::{Sampling, generate};
use crate::nn::Llama;
use crate::tokenizer::Tokenizer;

/// Exact match of the greedy answer (up to EOS or `max_new_tokens`, whitespace-trimmed).
pub fn score(
    model: &Llama,
    tokenizer: &dyn Tokenizer,
    records: &[Record],
    template: &Template,
    max_new_tokens: usize,
) -> Result<(TaskScore, Vec<SampleRecord>), ModelError> {
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
