//! Source text → typed AST with spans (pest grammar in `grammar/lpipe.pest`).
