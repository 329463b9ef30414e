//! Evaluation diagnostics: codes `lpipe::E600`–`lpipe::E619`.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Everything that can go wrong while loading task data, scoring, or writing and reading results.
#[derive(Debug, Error, Diagnostic)]
pub enum EvalError {
    /// A task's data file (or directory) is not where the data layout puts it.
    #[error("task data not found: `{}`", path.display())]
    #[diagnostic(
        code(lpipe::E600),
        help(
            "point the eval stage's `data` (or `--data`) at a directory laid out like ../shared/data: \
             truthfulqa/data/mc_task.json, gpt3_arithmetic/*.jsonl, mmlu/data/{{dev,test}}/*.csv, blimp/data/*.jsonl"
        )
    )]
    DataMissing {
        /// The file that was looked for.
        path: PathBuf,
        /// The task that needed it.
        task: String,
    },

    /// A data file exists but could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    #[diagnostic(
        code(lpipe::E601),
        help("check the file's permissions and that it is UTF-8 text")
    )]
    DataRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A record of a data file is not what the task expects.
    #[error("malformed record at `{}:{line}`: {message}", path.display())]
    #[diagnostic(
        code(lpipe::E602),
        help(
            "the file should be the official release of the dataset, unmodified; compare it with SOURCES.md"
        )
    )]
    DataMalformed {
        /// The file.
        path: PathBuf,
        /// One-based line where the record starts.
        line: usize,
        /// What is wrong with it.
        message: String,
    },

    /// A task name that no task or group has.
    #[error("unknown evaluation task `{name}`")]
    #[diagnostic(code(lpipe::E603), help("{help}"))]
    UnknownTask {
        /// The name as written.
        name: String,
        /// A suggestion or the list of known tasks.
        help: String,
    },

    /// A task option that the task cannot honour.
    #[error("invalid option for task `{task}`: {message}")]
    #[diagnostic(code(lpipe::E604), help("{help}"))]
    InvalidOption {
        /// The task.
        task: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },

    /// The tokenizer has neither a BOS nor an EOS token to stand in for an empty context.
    #[error("the tokenizer has no BOS or EOS token to use as the context of `{task}`")]
    #[diagnostic(
        code(lpipe::E605),
        help(
            "tasks with an empty context (BLiMP) score the sentence after one BOS (else EOS) token, as lm-evaluation-harness does"
        )
    )]
    NoPrefixToken {
        /// The task with an empty context.
        task: String,
    },

    /// A continuation that tokenizes to nothing cannot be scored.
    #[error("document {doc} of `{task}` has a continuation with no tokens: {continuation:?}")]
    #[diagnostic(
        code(lpipe::E606),
        help("the data record is probably empty or truncated")
    )]
    EmptyContinuation {
        /// The task.
        task: String,
        /// Index of the document in the task.
        doc: usize,
        /// The continuation text.
        continuation: String,
    },

    /// The model returned a different number of results than requests it was given.
    #[error("the scorer returned {got} log-likelihoods for {expected} requests")]
    #[diagnostic(
        code(lpipe::E607),
        help("this is a bug in the model's `Scorer` implementation")
    )]
    ScorerCount {
        /// Requests sent.
        expected: usize,
        /// Results received.
        got: usize,
    },

    /// The model failed while scoring a task.
    #[error("the model failed while scoring `{task}`: {message}")]
    #[diagnostic(
        code(lpipe::E608),
        help("the related diagnostic below is the model's own")
    )]
    Scorer {
        /// The task being scored.
        task: String,
        /// The model's error, rendered.
        message: String,
        /// The model's diagnostic.
        #[related]
        cause: Vec<ForeignDiagnostic>,
    },

    /// Writing results failed.
    #[error("cannot write `{}`: {source}", path.display())]
    #[diagnostic(
        code(lpipe::E609),
        help("check that the run directory is writable and the disk is not full")
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A run directory has no readable evaluation results.
    #[error("no evaluation results in `{}`: {message}", path.display())]
    #[diagnostic(
        code(lpipe::E610),
        help(
            "`lpipe report` takes run directories (with eval.json and/or summary.json) or a sweep directory holding them"
        )
    )]
    Results {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// Subsampling or the data left a task with no document to score.
    #[error("task `{task}` has no documents to score")]
    #[diagnostic(
        code(lpipe::E611),
        help("raise `limit`, or check that the data file is not empty")
    )]
    NoDocuments {
        /// The task.
        task: String,
    },

    /// The Python reference of a benchmark could not run or answered nonsense.
    #[error("the reference measurement failed: {message}")]
    #[diagnostic(
        code(lpipe::E612),
        help(
            "set LPIPE_PYTHON to a Python with torch, transformers and gguf (scripts/reference/score.py says how to install them)"
        )
    )]
    Reference {
        /// What went wrong.
        message: String,
    },
}

/// Shorthand for evaluation results.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

/// A diagnostic from another subsystem (the model behind a `Scorer`), carried as related to an
/// evaluation error with its own code, help and labels.
pub struct ForeignDiagnostic(pub Box<dyn Diagnostic + Send + Sync>);

impl std::fmt::Debug for ForeignDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for ForeignDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for ForeignDiagnostic {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Diagnostic for ForeignDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.0.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.0.diagnostic_source()
    }
}
