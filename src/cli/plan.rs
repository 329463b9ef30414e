//! `lpipe plan`: the stage graph, sweep runs, parameter counts and memory estimates.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::check_file;
use crate::cli::check::print_diagnostics;
use crate::plan::graph::StageGraph;
use crate::plan::{render, schedule};

/// Output formats of `lpipe plan`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable summary.
    Text,
    /// The validated pipeline (IR) as RON.
    Ron,
    /// The validated pipeline (IR) as JSON.
    Json,
    /// The stage graph for Graphviz.
    Dot,
}

/// Arguments of `lpipe plan`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The pipeline file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Override a key before planning (`--set lora.r=16`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// Runs `lpipe plan`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let checked = check_file(&args.file, &args.sets);
    print_diagnostics(&checked.diagnostics);
    let Some(pipeline) = checked.pipeline else {
        return Ok(ExitCode::from(super::EXIT_DIAGNOSTICS));
    };
    // The checker already rejected cycles, so the graph builds.
    let out = match args.format {
        Format::Ron => {
            pipeline
                .to_ron()
                .map_err(|e| miette::miette!(code = "lpipe::E200", "cannot write RON: {e}"))?
                + "\n"
        }
        Format::Json => {
            serde_json::to_string_pretty(&pipeline)
                .map_err(|e| miette::miette!(code = "lpipe::E200", "cannot write JSON: {e}"))?
                + "\n"
        }
        Format::Dot | Format::Text => {
            let Some(first) = pipeline.runs.first() else {
                return Ok(ExitCode::SUCCESS);
            };
            let graph = StageGraph::build(&first.config).map_err(|c| {
                miette::miette!(code = "lpipe::E110", "dependency cycle: {}", c.join(" → "))
            })?;
            if args.format == Format::Dot {
                render::dot(&pipeline, &graph)
            } else {
                let schedule = schedule::schedule(&pipeline).map_err(|c| {
                    miette::miette!(code = "lpipe::E110", "dependency cycle: {}", c.join(" → "))
                })?;
                render::text(&pipeline, &schedule)
            }
        }
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
