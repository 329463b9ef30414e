//! The validated pipeline's `dataset` stage ([`ir::Dataset`]) → the data stage's [`DatasetConfig`].

use crate::ir;

use super::alpaca::Format;
use super::arithmetic::{ArithOp, ArithmeticSpec};
use super::encode::TokenizeSettings;
use super::error::DataError;
use super::prepare::{DatasetConfig, SourceSpec};
use super::record::FieldMap;
use super::split::{SplitSpec, ValidationSize};
use super::template::{CustomTemplate, Template};

/// `dataset` with a relative data file that does not exist from here taken against `base_dir`
/// (the pipeline file's directory; the checker resolves paths, IR from elsewhere may not).
pub fn resolve_paths(dataset: &ir::Dataset, base_dir: &std::path::Path) -> ir::Dataset {
    let mut dataset = dataset.clone();
    if let ir::DataSource::Json { path, .. } | ir::DataSource::Tokens { path } = &mut dataset.source
        && path.is_relative()
        && !path.exists()
    {
        *path = base_dir.join(&*path);
    }
    dataset
}

/// Held-out arithmetic questions drawn when the pipeline does not say (for before/after accuracy).
pub const DEFAULT_HELDOUT: usize = 200;

impl DatasetConfig {
    /// The data-stage settings of a checked `dataset { … }` block. `add_bos` comes from the model
    /// (Llama 2 prepends BOS, SmolLM2 does not); training examples always end with EOS.
    pub fn from_ir(dataset: &ir::Dataset, add_bos: bool) -> Result<Self, DataError> {
        let source = match &dataset.source {
            ir::DataSource::Json {
                path,
                lines,
                fields,
            } => SourceSpec::File {
                path: path.clone(),
                format: if *lines { Format::Jsonl } else { Format::Json },
                fields: FieldMap {
                    instruction: fields.instruction.clone(),
                    input: (!fields.input.is_empty()).then(|| fields.input.clone()),
                    output: fields.output.clone(),
                },
            },
            ir::DataSource::Arithmetic {
                digits,
                ops,
                count,
                seed,
            } => SourceSpec::Arithmetic(ArithmeticSpec {
                digits: *digits,
                ops: ops.iter().map(|op| arith_op(*op)).collect(),
                count: usize::try_from(*count).unwrap_or(usize::MAX),
                heldout: DEFAULT_HELDOUT,
                seed: *seed,
            }),
            ir::DataSource::Tokens { path } => SourceSpec::Tokens { path: path.clone() },
        };
        let template = match &dataset.template {
            ir::Template::Alpaca => Template::Alpaca,
            ir::Template::Chatml { system } => Template::Chatml {
                system: system.clone(),
            },
            ir::Template::Custom { prompt, no_input } => {
                Template::Custom(CustomTemplate::new(prompt, no_input.as_deref())?)
            }
        };
        Ok(DatasetConfig {
            source,
            template,
            tokenize: TokenizeSettings {
                max_seq_len: Some(dataset.max_seq_len as usize),
                mask_prompt: dataset.mask_prompt,
                add_bos,
                add_eos: true,
            },
            split: SplitSpec {
                validation: ValidationSize::Fraction(dataset.val_split),
                seed: dataset.seed,
                limit: dataset
                    .limit
                    .map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
            },
        })
    }
}

fn arith_op(op: ir::ArithOp) -> ArithOp {
    match op {
        ir::ArithOp::Plus => ArithOp::Plus,
        ir::ArithOp::Minus => ArithOp::Minus,
        ir::ArithOp::Times => ArithOp::Times,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_every_field() {
        let d = ir::Dataset {
            source: ir::DataSource::Arithmetic {
                digits: 2,
                ops: vec![ir::ArithOp::Plus, ir::ArithOp::Minus],
                count: 2000,
                seed: 1,
            },
            template: ir::Template::Custom {
                prompt: "Q: {instruction}\nA: ".into(),
                no_input: None,
            },
            max_seq_len: 256,
            mask_prompt: true,
            val_split: 0.1,
            seed: 7,
            limit: Some(500),
        };
        let c = DatasetConfig::from_ir(&d, false).unwrap();
        assert_eq!(
            c.source,
            SourceSpec::Arithmetic(ArithmeticSpec {
                digits: 2,
                ops: vec![ArithOp::Plus, ArithOp::Minus],
                count: 2000,
                heldout: DEFAULT_HELDOUT,
                seed: 1
            })
        );
        let r = super::super::record::Record::new("1+1?", "", "2");
        assert_eq!(
            (c.template.prompt(&r), c.template.response(&r)),
            ("Q: 1+1?\nA: ".into(), "2".into())
        );
        assert_eq!(
            c.tokenize,
            TokenizeSettings {
                max_seq_len: Some(256),
                mask_prompt: true,
                add_bos: false,
                add_eos: true
            }
        );
        assert_eq!(
            c.split,
            SplitSpec {
                validation: ValidationSize::Fraction(0.1),
                seed: 7,
                limit: Some(500)
            }
        );

        let json = ir::Dataset {
            source: ir::DataSource::Json {
                path: "a.jsonl".into(),
                lines: true,
                fields: ir::FieldMap {
                    instruction: "q".into(),
                    input: String::new(),
                    output: "a".into(),
                },
            },
            template: ir::Template::Chatml {
                system: Some("Be brief.".into()),
            },
            ..d
        };
        let c = DatasetConfig::from_ir(&json, true).unwrap();
        let SourceSpec::File { format, fields, .. } = &c.source else {
            panic!()
        };
        assert_eq!((*format, fields.input.as_deref()), (Format::Jsonl, None));
        assert_eq!(
            c.template,
            Template::Chatml {
                system: Some("Be brief.".into())
            }
        );
        assert!(c.tokenize.add_bos);
    }
}
