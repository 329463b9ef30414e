//! Data diagnostics: codes `lpipe::E400`–`lpipe::E413`.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// Everything that can go wrong while loading, templating, tokenizing or caching a dataset.
#[derive(Debug, Error, Diagnostic)]
pub enum DataError {
    /// The data file cannot be read.
    #[error("cannot read data file `{}`", path.display())]
    #[diagnostic(
        code(lpipe::E400),
        help("check the path in the `dataset` block; relative paths start at the pipeline file")
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a JSON array or JSON Lines at the top level.
    #[error("`{}` is not a JSON array of records: {message}", path.display())]
    #[diagnostic(
        code(lpipe::E401),
        help(
            "Alpaca files are one JSON array of objects (`[{{\"instruction\": …}}, …]`); \
             JSON Lines files (`.jsonl`) hold one object per line"
        )
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser expected.
        message: String,
        /// The file text.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// Where it went wrong.
        #[label("here")]
        span: SourceSpan,
    },

    /// One or more records are malformed; every one found is listed (up to a cap).
    #[error("{count} malformed record{} in `{}`{}", plural(*count), path.display(), shown_note(*count, records.len()))]
    #[diagnostic(
        code(lpipe::E402),
        help(
            "each record needs string fields for the instruction and the output (the input is optional); \
             map other field names with `fields = {{ instruction = \"…\", input = \"…\", output = \"…\" }}`"
        )
    )]
    BadRecords {
        /// The file.
        path: PathBuf,
        /// How many records are malformed in total.
        count: usize,
        /// The file text, shared by the related diagnostics.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The first malformed records.
        #[related]
        records: Vec<RecordError>,
    },

    /// Pre-tokenized records that are malformed; every one found is listed (up to a cap).
    #[error("{count} malformed record{} in `{}`{}", plural(*count), path.display(), shown_note(*count, records.len()))]
    #[diagnostic(
        code(lpipe::E413),
        help(
            "a pre-tokenized file holds one JSON object per line: `input_ids` (token ids below the \
             tokenizer's vocabulary size) and optionally `labels` (-100 on the prompt, then the ids)"
        )
    )]
    BadTokenRecords {
        /// The file.
        path: PathBuf,
        /// How many records are malformed in total.
        count: usize,
        /// The file text, shared by the related diagnostics.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// The first malformed records.
        #[related]
        records: Vec<RecordError>,
    },

    /// The source produced no records.
    #[error("dataset `{name}` has no records")]
    #[diagnostic(
        code(lpipe::E406),
        help(
            "a training run needs at least one example; check the file or the `count` of the source"
        )
    )]
    Empty {
        /// The file or source name.
        name: String,
    },

    /// A custom template string is invalid.
    #[error("invalid prompt template: {message}")]
    #[diagnostic(
        code(lpipe::E407),
        help(
            "templates use `{{instruction}}`, `{{input}}` and at most one `{{output}}` (the response \
             follows the template when it has none); write `{{{{` and `}}}}` for literal braces"
        )
    )]
    Template {
        /// What is wrong.
        message: String,
        /// The template text.
        #[source_code]
        src: Arc<NamedSource<String>>,
        /// Where.
        #[label("{message}")]
        span: SourceSpan,
    },

    /// The synthetic arithmetic source cannot produce what was asked.
    #[error("invalid arithmetic source: {message}")]
    #[diagnostic(code(lpipe::E408), help("{help}"))]
    Arithmetic {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },

    /// The train/validation split leaves one side empty or is out of range.
    #[error("invalid train/validation split: {message}")]
    #[diagnostic(
        code(lpipe::E409),
        help("use a validation fraction in [0, 1) or a count smaller than the number of examples")
    )]
    Split {
        /// What is wrong.
        message: String,
    },

    /// `add_eos` was asked for but the tokenizer defines no end-of-sequence token.
    #[error("the tokenizer has no end-of-sequence token, so examples cannot end with EOS")]
    #[diagnostic(
        code(lpipe::E410),
        help(
            "set `eos = false` in the dataset block, or use the tokenizer that belongs to the model"
        )
    )]
    NoEos,

    /// The tokenized dataset could not be written to the cache.
    #[error("cannot write the tokenized dataset to `{}`", path.display())]
    #[diagnostic(
        code(lpipe::E411),
        help(
            "check that the cache directory (LPIPE_CACHE_DIR) is writable and the disk is not full"
        )
    )]
    CacheWrite {
        /// The file being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A cache file exists but is not a tokenized dataset of this version.
    #[error("`{}` is not a valid tokenized dataset: {message}", path.display())]
    #[diagnostic(
        code(lpipe::E412),
        help("delete the file; lpipe tokenizes the dataset again on the next run")
    )]
    CacheCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One malformed record, shown as a related diagnostic of [`DataError::BadRecords`].
#[derive(Debug, Error, Diagnostic)]
pub enum RecordError {
    /// A required field is absent.
    #[error("record {index}: missing field `{field}`")]
    #[diagnostic(code(lpipe::E403))]
    MissingField {
        /// Zero-based record index.
        index: usize,
        /// The (mapped) field name.
        field: String,
        /// The record.
        #[label("this record has no `{field}`")]
        span: SourceSpan,
    },

    /// A field holds something other than a string.
    #[error("record {index}: field `{field}` is {found}, expected a string")]
    #[diagnostic(code(lpipe::E404))]
    WrongType {
        /// Zero-based record index.
        index: usize,
        /// The (mapped) field name.
        field: String,
        /// The JSON type found.
        found: &'static str,
        /// The field.
        #[label("`{field}` must be a string")]
        span: SourceSpan,
    },

    /// The record is not a JSON object, or is not valid JSON.
    #[error("record {index}: {message}")]
    #[diagnostic(code(lpipe::E405))]
    Invalid {
        /// Zero-based record index.
        index: usize,
        /// What is wrong.
        message: String,
        /// Where.
        #[label("{message}")]
        span: SourceSpan,
    },
}

impl RecordError {
    /// The zero-based index of the record.
    pub fn index(&self) -> usize {
        match self {
            RecordError::MissingField { index, .. }
            | RecordError::WrongType { index, .. }
            | RecordError::Invalid { index, .. } => *index,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn shown_note(count: usize, shown: usize) -> String {
    if shown < count {
        format!(" (first {shown} shown)")
    } else {
        String::new()
    }
}
