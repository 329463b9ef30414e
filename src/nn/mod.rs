//! Burn modules: the Llama-family decoder and its LoRA-wrapped linears.
