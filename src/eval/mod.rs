//! Evaluation tasks defined as in lm-evaluation-harness, and their metrics.
//!
//! The path of a run: [`registry::resolve`] turns task names into a [`Plan`]; each [`Task`] reads
//! its data ([`data`]) and builds its prompts ([`tasks`]) as [`Doc`]s; the [`runner`] encodes them
//! into [`Request`]s exactly as the harness's `_encode_pair`, has a [`Scorer`] (the model) answer
//! them, judges each document ([`metrics`]) and aggregates tasks and groups into an [`EvalReport`]
//! (`eval.json`) and [`SampleRecord`]s (`samples.jsonl`).
//!
//! ```no_run
//! # use lpipe::eval::*;
//! # fn demo<S: Scorer>(scorer: &mut S, tok: &dyn lpipe::tokenizer::Tokenizer) -> Result<()> {
//! let plan = resolve(&[TaskSpec::named("truthfulqa_mc1"), TaskSpec::named("mmlu_global_facts")])?;
//! let mut opts = EvalOptions::new("../shared/data");
//! opts.limit = Some(100);
//! let out = evaluate(scorer, tok, &plan, &opts, &mut |p| eprintln!("{} {}/{}", p.task, p.docs_done, p.docs_total))?;
//! out.write(std::path::Path::new("runs/base"))?;
//! print!("{}", out.report.table().render(Format::Table));
//! # Ok(()) }
//! ```

pub mod data;
pub mod doc;
pub mod error;
pub mod heldout;
pub mod metrics;
pub mod model_scorer;
pub mod prefix;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod request;
pub mod results;
pub mod runner;
pub mod sample;
pub mod scorer;
pub mod table;
pub mod tasks;

pub use doc::{Doc, Scoring};
pub use error::{EvalError, Result};
pub use prefix::gguf_prefix_token;
pub use progress::{progress_bar, progress_log};
pub use registry::{Group, Plan, TaskSpec, resolve};
pub use request::{LogLikelihood, Request, encode_doc, encode_pair};
pub use results::{EvalReport, SampleRecord, TaskScore};
pub use runner::{EvalOptions, EvalOutput, Progress, evaluate};
pub use scorer::{Scorer, context_groups, shared_prefix_len};
pub use table::{Format, Table};
pub use tasks::{Task, TaskKind};
