//! The validated pipeline as plain serde data (RON is its machine-readable form).

pub mod target;
