//! `lpipe tokenize`: token ids of text or of templated records, to debug templates and lengths.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use miette::{IntoDiagnostic, Report};

use crate::data::alpaca::load_file;
use crate::data::{
    FieldMap, Format, LengthStats, Record, Template, TokenizeSettings, encode_record,
};
use crate::tokenizer::Tokenizer;

/// Arguments of `lpipe tokenize`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["text", "records"])))]
pub struct Args {
    /// Tokenizer: a SentencePiece `.model`, a `tokenizer.json`, or a GGUF model file.
    #[arg(long, value_name = "PATH")]
    pub tokenizer: PathBuf,
    /// Text to tokenize (used as the instruction when a template is given).
    pub text: Option<String>,
    /// Tokenize every record of an Alpaca JSON / JSONL file (template: alpaca unless given).
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
    /// Prompt template, as a pipeline's `dataset.template`: `alpaca`, `chatml`, `chatml(system =
    /// "…")`, a template string with `{instruction}`, `{input}`, `{output}`, or `custom("…",
    /// no_input = "…")`.
    #[arg(long)]
    pub template: Option<String>,
    /// The record's input, with TEXT and `--template`.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub input: String,
    /// The record's output (response), with TEXT and `--template`.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub output: String,
    /// Field names in `--records` as `instruction,input,output` (input may be empty).
    #[arg(long, value_name = "I,IN,O")]
    pub fields: Option<String>,
    /// Prepend the BOS token.
    #[arg(long)]
    pub bos: bool,
    /// Append the EOS token (as training does).
    #[arg(long)]
    pub eos: bool,
    /// Truncate each example to this many tokens.
    #[arg(long, value_name = "N")]
    pub max_seq_len: Option<usize>,
    /// Print at most this many records (statistics still cover all of them).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Machine-readable output: one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// Runs `lpipe tokenize`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let tokenizer = crate::tokenizer::load(&args.tokenizer).map_err(Report::new)?;
    let template = match args.template.as_deref() {
        None => None,
        Some(name) => Some(parse_template(name)?),
    };
    let settings = TokenizeSettings {
        max_seq_len: args.max_seq_len,
        mask_prompt: true,
        add_bos: args.bos,
        add_eos: args.eos,
    };
    let mut out = std::io::stdout().lock();
    match (&args.records, &args.text, template) {
        (Some(path), _, template) => {
            let fields = parse_fields(args.fields.as_deref())?;
            let records = load_file(path, Format::Auto, &fields)
                .map_err(Report::new)?
                .records;
            let template = template.unwrap_or(Template::Alpaca);
            print_records(
                &mut out,
                tokenizer.as_ref(),
                &template,
                &records,
                &settings,
                &args,
            )
        }
        (None, Some(text), Some(template)) => {
            let record = Record::new(text.as_str(), args.input.as_str(), args.output.as_str());
            print_records(
                &mut out,
                tokenizer.as_ref(),
                &template,
                &[record],
                &settings,
                &args,
            )
        }
        (None, Some(text), None) => {
            let ids = tokenizer.encode(text, args.bos);
            let pieces: Vec<String> = ids
                .iter()
                .map(|&id| piece(tokenizer.as_ref(), id))
                .collect();
            if args.json {
                let line = serde_json::json!({"ids": ids, "pieces": pieces, "length": ids.len()});
                writeln!(out, "{line}").into_diagnostic()?;
            } else {
                writeln!(out, "{} tokens: {ids:?}", ids.len()).into_diagnostic()?;
                for (id, piece) in ids.iter().zip(&pieces) {
                    writeln!(out, "{id:>8}  {piece}").into_diagnostic()?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        (None, None, _) => Err(miette::miette!(
            code = "lpipe::E000",
            help = "pass TEXT or --records FILE",
            "nothing to tokenize"
        )),
    }
}

fn print_records(
    out: &mut impl Write,
    tokenizer: &dyn Tokenizer,
    template: &Template,
    records: &[Record],
    settings: &TokenizeSettings,
    args: &Args,
) -> miette::Result<ExitCode> {
    let single = records.len() == 1 && args.records.is_none();
    let shown = args.limit.unwrap_or(if single { 1 } else { 20 });
    let mut lengths = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let e = encode_record(tokenizer, template, record, settings).map_err(Report::new)?;
        lengths.push(e.full_len);
        if index >= shown {
            continue;
        }
        if args.json {
            let line = serde_json::json!({
                "index": index, "ids": e.ids, "prompt_len": e.prompt_len, "length": e.full_len,
            });
            writeln!(out, "{line}").into_diagnostic()?;
        } else if single {
            writeln!(out, "prompt:\n{}", template.prompt(record)).into_diagnostic()?;
            let (prompt, response) = e.ids.split_at(e.prompt_len.min(e.ids.len()));
            writeln!(out, "prompt ids ({}): {prompt:?}", prompt.len()).into_diagnostic()?;
            writeln!(out, "response ids ({}): {response:?}", response.len()).into_diagnostic()?;
        } else {
            writeln!(
                out,
                "record {index}: {} tokens (prompt {})",
                e.full_len, e.prompt_len
            )
            .into_diagnostic()?;
        }
    }
    if !single && let Some(stats) = LengthStats::from_lengths(&lengths, settings.max_seq_len) {
        if args.json {
            writeln!(out, "{}", serde_json::json!({ "stats": stats })).into_diagnostic()?;
        } else {
            if records.len() > shown {
                writeln!(out, "… {} more records", records.len() - shown).into_diagnostic()?;
            }
            writeln!(out, "{stats}").into_diagnostic()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How one token reads: its vocabulary entry (`▁Hello`, `<0x0A>`), else its decoded text.
fn piece(tokenizer: &dyn Tokenizer, id: u32) -> String {
    match tokenizer.id_to_token(id) {
        Some(token) => format!("{token:?}"),
        None if Some(id) == tokenizer.bos_id() => "<bos>".into(),
        None if Some(id) == tokenizer.eos_id() => "<eos>".into(),
        None => format!("{:?}", tokenizer.decode(&[id])),
    }
}

fn parse_template(name: &str) -> miette::Result<Template> {
    Template::from_spec(name).map_err(Report::new)
}

fn parse_fields(spec: Option<&str>) -> miette::Result<FieldMap> {
    let Some(spec) = spec else {
        return Ok(FieldMap::default());
    };
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    match parts[..] {
        [instruction, input, output] if !instruction.is_empty() && !output.is_empty() => {
            Ok(FieldMap {
                instruction: instruction.into(),
                input: (!input.is_empty()).then(|| input.to_string()),
                output: output.into(),
            })
        }
        _ => Err(miette::miette!(
            code = "lpipe::E402",
            help = "write the three field names separated by commas, e.g. `--fields context,,completion`",
            "`--fields {spec}` is not `instruction,input,output`"
        )),
    }
}
