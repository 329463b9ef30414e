//! Default values that other keys may reference (`alpha = 2 * r` with `r` left unset).
//!
//! The converters apply the same defaults; `tests/it/check.rs` checks that both agree.

use crate::check::doc::StageKind;

/// (stage, key, value as written) for every referenceable default.
pub const DEFAULTS: [(StageKind, &str, &str); 16] = [
    (StageKind::Dataset, "max_seq_len", "512"),
    (StageKind::Dataset, "mask_prompt", "true"),
    (StageKind::Dataset, "val_split", "0.05"),
    (StageKind::Dataset, "seed", "42"),
    (StageKind::Quantize, "double_quant", "false"),
    (StageKind::Quantize, "block_size", "64"),
    (StageKind::Lora, "r", "8"),
    (StageKind::Lora, "alpha", "16"),
    (StageKind::Lora, "dropout", "0.05"),
    (StageKind::Lora, "rslora", "false"),
    (StageKind::Train, "seed", "42"),
    (StageKind::Train, "eval_iters", "100"),
    (StageKind::Train, "log_interval", "1"),
    (StageKind::Train, "activation_checkpointing", "false"),
    (StageKind::Eval, "seed", "1234"),
    (StageKind::Eval, "batch_size", "8"),
];

/// The default of `key` in a `kind` stage, as source text.
pub fn default_text(kind: StageKind, key: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(k, name, _)| *k == kind && *name == key)
        .map(|(_, _, text)| *text)
}
