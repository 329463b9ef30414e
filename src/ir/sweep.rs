//! Sweep axes (the expanded points are [`crate::ir::Run`]s).

use serde::{Deserialize, Serialize};

/// The `sweep` stage: the product of its axes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// Axes, combined as a cartesian product.
    pub axes: Vec<Axis>,
    /// Keys computed per point (`lora.alpha = 2 * lora.r`), with their expressions.
    pub derived: Vec<(String, String)>,
}

/// One axis: a single key (grid) or several keys varied in lockstep (zip).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// grid or zip.
    pub kind: AxisKind,
    /// The keys and their values, as written.
    pub keys: Vec<(String, Vec<String>)>,
}

/// How an axis was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AxisKind {
    /// One key of a `grid` block.
    Grid,
    /// A `zip` block.
    Zip,
}
