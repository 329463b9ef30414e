//! Token-length statistics of a dataset, as `lpipe plan` prints them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Summary of example lengths in tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    /// Number of examples.
    pub count: usize,
    /// Shortest example.
    pub min: usize,
    /// Longest example.
    pub max: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (mean of the two middle values for an even count, as Python's `statistics.median`).
    pub median: f64,
    /// 95th percentile, linearly interpolated (NumPy's default `percentile` method).
    pub p95: f64,
    /// Examples longer than `max_seq_len` (cut to it for training).
    pub truncated: usize,
}

impl LengthStats {
    /// Statistics of `lengths`; `max_seq_len` only feeds [`LengthStats::truncated`]. `None` when empty.
    pub fn from_lengths(lengths: &[usize], max_seq_len: Option<usize>) -> Option<Self> {
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let n = sorted.len();
        let total: u128 = sorted.iter().map(|&l| l as u128).sum();
        let median = if n % 2 == 1 {
            sorted[n / 2] as f64
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
        };
        Some(LengthStats {
            count: n,
            min,
            max,
            mean: total as f64 / n as f64,
            median,
            p95: percentile(&sorted, 0.95),
            truncated: max_seq_len.map_or(0, |m| sorted.iter().filter(|&&l| l > m).count()),
        })
    }
}

/// Linear-interpolation percentile of sorted, non-empty `sorted` (`q` in 0..=1).
fn percentile(sorted: &[usize], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] as f64 + (sorted[hi] as f64 - sorted[lo] as f64) * frac
}

impl fmt::Display for LengthStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} examples, tokens: median {}, mean {:.1}, p95 {}, min {}, max {}",
            self.count, self.median, self.mean, self.p95, self.min, self.max
        )?;
        if self.truncated > 0 {
            write!(f, " ({} truncated to max_seq_len)", self.truncated)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_statistics_and_numpy() {
        // statistics.median([5, 1, 3, 2]) = 2.5; numpy.percentile([1,2,3,5], 95) = 4.7
        let s = LengthStats::from_lengths(&[5, 1, 3, 2], Some(3)).unwrap();
        assert_eq!(
            (s.count, s.min, s.max, s.median, s.truncated),
            (4, 1, 5, 2.5, 1)
        );
        assert!((s.mean - 2.75).abs() < 1e-12);
        assert!((s.p95 - 4.7).abs() < 1e-12);
        let odd = LengthStats::from_lengths(&[9, 1, 4], None).unwrap();
        assert_eq!((odd.median, odd.p95, odd.truncated), (4.0, 8.5, 0));
        assert_eq!(LengthStats::from_lengths(&[], None), None);
    }
}
