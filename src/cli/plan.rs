//! `lpipe plan`: the stage graph, sweep runs, parameter counts, memory estimates and the
//! dataset's token lengths.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::check_file;
use crate::cli::check::print_diagnostics;
use crate::plan::graph::StageGraph;
use crate::plan::lengths::{self, LengthReport};
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
    /// The plan itself (stages, per-run counts and memory, dataset lengths) as JSON.
    PlanJson,
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
    /// Do not tokenize the dataset for its length statistics.
    #[arg(long)]
    pub no_lengths: bool,
    /// Evaluation data for eval stages that name none (for the inputs section).
    #[arg(long, default_value = crate::eval::data::DEFAULT_DIR)]
    pub data_dir: PathBuf,
}

/// Runs `lpipe plan`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let checked = check_file(&args.file, &args.sets);
    print_diagnostics(&checked.diagnostics);
    let Some(pipeline) = checked.pipeline.clone() else {
        return Ok(ExitCode::from(super::EXIT_DIAGNOSTICS));
    };
    // The checker already rejected cycles, so the graph builds.
    let mut failed = false;
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
        Format::Dot | Format::Text | Format::PlanJson => {
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
                let lengths = if args.no_lengths {
                    Vec::new()
                } else {
                    measure_lengths(&pipeline, &mut failed)
                };
                if args.format == Format::Text {
                    render::text(&pipeline, &schedule, &lengths)
                        + &inputs_section(&checked, &args.data_dir)
                } else {
                    let plan = serde_json::json!({
                        "pipeline": pipeline.name,
                        "source": pipeline.source,
                        "steps": schedule.steps,
                        "runs": schedule.runs,
                        "lengths": lengths,
                    });
                    serde_json::to_string_pretty(&plan).map_err(|e| {
                        miette::miette!(code = "lpipe::E200", "cannot write JSON: {e}")
                    })? + "\n"
                }
            }
        }
    };
    print!("{out}");
    Ok(if failed {
        ExitCode::from(super::EXIT_DIAGNOSTICS)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `lpipe run` would refuse for a missing input, one line each (a plan may well be made
/// on a machine without the weights, so this informs and does not fail).
fn inputs_section(checked: &crate::check::Checked, data_dir: &std::path::Path) -> String {
    let Some(pipeline) = &checked.pipeline else {
        return String::new();
    };
    let missing = crate::check::resources::missing_inputs(&pipeline.runs, checked, data_dir);
    if missing.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\ninputs not on this machine (`lpipe run` stops on them; `lpipe check --resources` says \
         how to get each):\n",
    );
    for m in &missing {
        out += &format!("  {}  {}\n", m.code(), m.path.display());
    }
    out
}

/// Token lengths of each distinct dataset; a dataset or tokenizer that fails (rather than being
/// absent) prints its diagnostic and sets `failed`, since `lpipe run` would stop there too.
fn measure_lengths(pipeline: &crate::ir::Pipeline, failed: &mut bool) -> Vec<LengthReport> {
    let cache = crate::cache::cache_dir();
    lengths::measure(pipeline, Some(&cache))
        .into_iter()
        .map(|(report, error)| {
            if let Some(e) = error {
                eprint!("{}", crate::diag::render(&*e, 100));
                *failed = true;
            }
            report
        })
        .collect()
}
