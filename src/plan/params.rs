//! Parameter counts (base and LoRA-trainable) computed from an architecture alone.
