//! The pest grammar (`grammar/lpipe.pest`) and its generated parser and rules.

/// The generated pest parser.
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/lpipe.pest"]
pub struct LpipeGrammar;
