//! Checker: typed AST → validated pipeline, collecting every diagnostic in one pass.
