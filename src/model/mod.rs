//! Checkpoint formats and loading: GGUF, HF safetensors directories, model configs.
