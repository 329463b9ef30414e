//! lpipe's integration tests, one module a topic, linked into one test binary (as the `just`
//! project does) so that lpipe and Burn are linked once rather than once a file.
//!
//! Every test runs in this one process, on parallel threads: anything process-wide (the
//! backend's random generator above all) is behind [`support::global_lock`]. Run one topic with
//! `cargo test --test it <module>::`.

mod support;

mod check;
mod cli;
mod data_alpaca;
mod data_cli_tokenize;
mod data_json_scan;
mod data_llama2;
mod data_template;
mod data_tokenize;
mod device;
mod diagnostics;
mod doc_commands;
mod eval_full_tasks;
mod eval_model_reference;
mod eval_reference;
mod eval_runner;
mod eval_tokens;
mod fmt;
mod fuzz;
mod inputs;
mod language_keys;
mod layering;
mod model_cli;
mod model_dequant;
mod model_forward;
mod model_gguf;
mod model_hf;
mod model_lora;
mod parse;
mod pipelines;
mod plan;
mod plan_lengths;
mod plan_numbers;
mod preflight;
mod qlora_linear;
mod qlora_train;
mod quant_checkpoint;
mod quant_golden;
mod run_export;
mod run_interrupt;
mod run_keys;
mod run_peft_step;
mod run_pipeline;
mod slurm;
mod sweep_cli;
mod sweep_jobs;
mod sweep_plots;
mod syntax_agreement;
mod tensorboard;
mod tokenizer_bpe;
mod tokenizer_hf_json;
mod tokenizer_load;
mod tokenizer_props;
mod tokenizer_sentencepiece;
mod train_export;
mod train_fit;
mod train_lora_step;
mod train_param_counts;
mod train_resume;
