//! Model architectures without weights: the built-in table, HF `config.json`, GGUF headers.
