//! Seeded train/validation split.

use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::rng::SplitMix64;

/// How many examples go to validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationSize {
    /// A fraction of the examples, rounded (LitGPT's `val_split_fraction`).
    Fraction(f64),
    /// An exact number of examples.
    Count(usize),
}

/// The split settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// Size of the validation set.
    pub validation: ValidationSize,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Keep only this many examples (the first after shuffling), e.g. for a quick run.
    pub limit: Option<usize>,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec {
            validation: ValidationSize::Fraction(0.05),
            seed: 42,
            limit: None,
        }
    }
}

/// Example indices of each side; both lists keep the shuffled order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training examples.
    pub train: Vec<u32>,
    /// Validation examples.
    pub validation: Vec<u32>,
}

impl SplitSpec {
    /// Splits `n` examples (after `limit`); the training side is never empty.
    pub fn apply(&self, total: usize) -> Result<Split, DataError> {
        let n = self.limit.map_or(total, |l| l.min(total));
        let n_val = match self.validation {
            ValidationSize::Fraction(f) if (0.0..1.0).contains(&f) => {
                (f * n as f64).round() as usize
            }
            ValidationSize::Fraction(f) => {
                return Err(DataError::Split {
                    message: format!("validation fraction {f} is not in [0, 1)"),
                });
            }
            ValidationSize::Count(c) => c,
        };
        if n_val >= n {
            return Err(DataError::Split {
                message: format!("{n_val} validation examples leave none of the {n} for training"),
            });
        }
        let mut order: Vec<u32> = (0..total as u32).collect();
        SplitMix64::new(self.seed).shuffle(&mut order);
        order.truncate(n);
        let train = order.split_off(n_val);
        Ok(Split {
            train,
            validation: order,
        })
    }

    /// A stable description for cache keys.
    pub fn identity(&self) -> String {
        serde_json::json!(self).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_all_indices_deterministically() {
        let spec = SplitSpec {
            validation: ValidationSize::Fraction(0.1),
            seed: 9,
            limit: None,
        };
        let s = spec.apply(1000).unwrap();
        assert_eq!((s.train.len(), s.validation.len()), (900, 100));
        let mut all: Vec<u32> = s.train.iter().chain(&s.validation).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(s, spec.apply(1000).unwrap());
        assert_ne!(s, SplitSpec { seed: 10, ..spec }.apply(1000).unwrap());
        // A limit keeps a seeded subset of the same shuffle and splits that.
        let limited = SplitSpec {
            limit: Some(200),
            ..spec
        }
        .apply(1000)
        .unwrap();
        assert_eq!((limited.train.len(), limited.validation.len()), (180, 20));
        let mut subset: Vec<u32> = limited
            .train
            .iter()
            .chain(&limited.validation)
            .copied()
            .collect();
        subset.sort();
        subset.dedup();
        assert_eq!(subset.len(), 200);
        assert!(subset.iter().all(|&i| i < 1000));
        assert_eq!(
            SplitSpec {
                limit: Some(5000),
                ..spec
            }
            .apply(1000)
            .unwrap(),
            s
        );
    }

    #[test]
    fn rejects_empty_training_sides() {
        let count = |c| SplitSpec {
            validation: ValidationSize::Count(c),
            seed: 0,
            limit: None,
        };
        assert!(count(10).apply(10).is_err());
        assert_eq!(count(0).apply(10).unwrap().train.len(), 10);
        let frac = |f| SplitSpec {
            validation: ValidationSize::Fraction(f),
            seed: 0,
            limit: None,
        };
        assert!(frac(1.0).apply(10).is_err());
        assert!(frac(-0.1).apply(10).is_err());
        assert!(frac(f64::NAN).apply(10).is_err());
    }
}
