//! Source text → typed AST with spans (pest grammar in `grammar/lpipe.pest`), and back (`format`).

pub mod ast;
pub mod call;
pub mod error;
pub mod format;
pub mod grammar;
pub mod parser;
