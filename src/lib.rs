//! lpipe: declarative LoRA and QLoRA fine-tuning experiments for Llama-family models.
//!
//! The modules follow the data's path: source text is parsed ([`syntax`]), checked into a
//! validated pipeline ([`check`] → [`ir`]), planned as a stage graph ([`plan`]) and executed
//! ([`exec`]) by stages that load models ([`model`], [`nn`], [`tokenizer`], [`quant`]),
//! prepare data ([`data`]), train ([`train`]) and evaluate ([`eval`]).

pub mod bench;
pub mod cache;
pub mod check;
pub mod cli;
pub mod data;
pub mod diag;
pub mod eval;
pub mod exec;
pub mod io;
pub mod ir;
pub mod model;
pub mod nn;
pub mod plan;
pub mod quant;
pub mod source;
pub mod span;
pub mod stages;
pub mod sweep;
pub mod syntax;
#[doc(hidden)]
pub mod testing;
pub mod tokenizer;
pub mod train;
