//! `lpipe bench`.

use std::process::ExitCode;

/// Arguments of `lpipe bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: Which,
}

/// The benchmarks.
#[derive(clap::Subcommand, Debug)]
pub enum Which {
    /// Forward-pass tokens/s of lpipe and transformers on the same model.
    Forward(crate::bench::forward::Options),
    /// 4-bit dequantize throughput and QLoRA/LoRA training steps (time, memory), CPU or GPU.
    Qlora(crate::bench::qlora::Options),
    /// Alpaca tokenization throughput of lpipe, sentencepiece and HF tokenizers.
    Tokenize(crate::bench::tokenize::Options),
    /// Log-likelihood scoring throughput on real task requests, lpipe against transformers.
    Score(crate::bench::score::Options),
    /// LoRA training-step tokens/s of lpipe and PyTorch + PEFT on the same model.
    Train(crate::bench::train::Options),
    /// 4-bit dequantize throughput against a memcpy of the same size.
    Quant(crate::bench::quant::Args),
}

/// Runs `lpipe bench`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    match args.which {
        Which::Forward(opts) => {
            let rows = crate::bench::forward::run(&opts)?;
            print!("{}", crate::bench::forward::table(&rows, &opts));
        }
        Which::Qlora(opts) if opts.device != "cpu" => {
            if !crate::bench::qlora_gpu::run(&opts)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Which::Qlora(opts) => {
            let report = crate::bench::qlora::run(&opts)?;
            print!("{}", crate::bench::qlora::table(&report));
        }
        Which::Tokenize(opts) => {
            let rows = crate::bench::tokenize::run(&opts)?;
            print!("{}", crate::bench::tokenize::table(&rows, opts.records));
        }
        Which::Score(opts) => score(&opts)?,
        Which::Train(opts) => {
            let rows = crate::bench::train::run(&opts)?;
            print!("{}", crate::bench::train::table(&rows, &opts));
        }
        Which::Quant(a) => crate::bench::quant::run(&a)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `lpipe bench score`: loads the model and its tokenizer, then compares with transformers.
fn score(opts: &crate::bench::score::Options) -> miette::Result<()> {
    use crate::bench::score::{Config, run};
    use crate::eval::table::Format;
    let path = match &opts.model {
        Some(p) => p.clone(),
        None => crate::cache::smollm2_gguf().ok_or_else(|| {
            crate::model::error::ModelError::SourceNotFound {
                spec: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
                searched: vec![crate::cache::cache_dir().join("models")],
            }
        })?,
    };
    let data = match &opts.data {
        Some(d) => d.clone(),
        None => crate::cache::shared_dir()
            .map(|s| s.join("data"))
            .ok_or_else(|| {
                miette::miette!(
                    code = "lpipe::E600",
                    help = "pass --data <dir> laid out like ../shared/data",
                    "task data not found at ../shared/data"
                )
            })?,
    };
    let spec: crate::model::device::DeviceSpec = opts.device.parse()?;
    let device = spec.device()?;
    let loaded = crate::model::load(&path, &device)?;
    let tokenizer = crate::tokenizer::load(&path)?;
    let mut cfg = Config::new(data, &path);
    cfg.threads = opts.threads;
    if let Ok(file) = crate::model::gguf::GgufFile::open(&path) {
        cfg.prefix_token = crate::eval::gguf_prefix_token(&file);
    }
    let mut scorer = crate::eval::model_scorer::ModelScorer::new(&loaded.model);
    let outcome = run(&mut scorer, &*tokenizer, &cfg)?;
    print!("{}", outcome.table().render(Format::Table));
    println!(
        "max |ll(lpipe) - ll(transformers)| = {:.2e}; greedy flags differ on {} of {} requests; reference ran {} forward passes",
        outcome.max_abs_diff, outcome.greedy_mismatches, outcome.requests, outcome.reference_passes
    );
    Ok(())
}
