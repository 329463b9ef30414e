//! Tokenized examples, their order over epochs, and padded micro-batches.

use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::rng::TrainRng;

/// Label value whose position contributes no loss (PyTorch's `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

/// One tokenized training example: labels are token ids or [`IGNORE_INDEX`], aligned with the
/// inputs (the next-token shift happens in the loss, as in Hugging Face).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Token ids fed to the model.
    pub input_ids: Vec<u32>,
    /// Per-position labels, same length as `input_ids`.
    pub labels: Vec<i64>,
}

impl Example {
    /// An example whose labels are its inputs (no masking).
    pub fn unmasked(input_ids: Vec<u32>) -> Self {
        let labels = input_ids.iter().map(|&t| i64::from(t)).collect();
        Example { input_ids, labels }
    }

    /// Loss-bearing targets after the shift: labels at positions 1.. that are not ignored.
    pub fn n_targets(&self) -> usize {
        self.labels
            .iter()
            .skip(1)
            .filter(|&&l| l != IGNORE_INDEX)
            .count()
    }
}

/// Checks every example against the vocabulary; the first problem is reported with its index.
pub fn validate_examples(examples: &[Example], vocab_size: usize) -> Result<(), TrainError> {
    for (index, ex) in examples.iter().enumerate() {
        let bad = |reason: String| TrainError::Example { index, reason };
        if ex.input_ids.is_empty() {
            return Err(bad("no tokens".into()));
        }
        if ex.input_ids.len() != ex.labels.len() {
            return Err(bad(format!(
                "{} input ids but {} labels",
                ex.input_ids.len(),
                ex.labels.len()
            )));
        }
        if let Some(t) = ex.input_ids.iter().find(|&&t| t as usize >= vocab_size) {
            return Err(bad(format!(
                "token id {t} is outside the vocabulary of {vocab_size}"
            )));
        }
        if let Some(l) = ex
            .labels
            .iter()
            .find(|&&l| l != IGNORE_INDEX && !(0..vocab_size as i64).contains(&l))
        {
            return Err(bad(format!(
                "label {l} is neither -100 nor a token id below {vocab_size}"
            )));
        }
    }
    Ok(())
}

/// Right-padded token ids and labels of a micro-batch, row-major `[batch, seq]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MicroBatch {
    /// Rows.
    pub batch: usize,
    /// Columns (longest example).
    pub seq: usize,
    /// Token ids, padded with the pad id.
    pub input_ids: Vec<i64>,
    /// Labels, padded with [`IGNORE_INDEX`].
    pub labels: Vec<i64>,
    /// Loss-bearing targets after the shift.
    pub n_targets: usize,
}

/// Pads examples on the right to a common length. Causal attention never lets a real token see
/// the padding after it, so no attention mask is needed and padded rows train exactly like
/// unpadded ones.
pub fn collate(examples: &[&Example], pad_id: u32) -> MicroBatch {
    let seq = examples
        .iter()
        .map(|e| e.input_ids.len())
        .max()
        .unwrap_or(0);
    let mut input_ids = Vec::with_capacity(examples.len() * seq);
    let mut labels = Vec::with_capacity(examples.len() * seq);
    let mut n_targets = 0;
    for e in examples {
        input_ids.extend(e.input_ids.iter().map(|&t| i64::from(t)));
        input_ids.extend(std::iter::repeat_n(
            i64::from(pad_id),
            seq - e.input_ids.len(),
        ));
        labels.extend_from_slice(&e.labels);
        labels.extend(std::iter::repeat_n(IGNORE_INDEX, seq - e.labels.len()));
        n_targets += e.n_targets();
    }
    MicroBatch {
        batch: examples.len(),
        seq,
        input_ids,
        labels,
        n_targets,
    }
}

/// Where the data stream stands: the epoch and the next index into that epoch's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataPosition {
    /// Completed passes over the data.
    pub epoch: u64,
    /// Examples of the current epoch already consumed.
    pub index: usize,
}

/// A seeded, resumable stream of example indices, reshuffled every epoch.
///
/// Each epoch's order is a pure function of `(seed, epoch)`, so the position alone restores it.
#[derive(Clone, Debug)]
pub struct DataStream {
    seed: u64,
    shuffle: bool,
    len: usize,
    pos: DataPosition,
    order: Vec<usize>,
}

impl DataStream {
    /// A stream over `len` examples starting at `pos`.
    pub fn new(len: usize, seed: u64, shuffle: bool, pos: DataPosition) -> Self {
        let mut s = DataStream {
            seed,
            shuffle,
            len,
            pos,
            order: Vec::new(),
        };
        s.order = s.order_of(pos.epoch);
        s
    }

    fn order_of(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if self.shuffle {
            TrainRng::new(self.seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03))
                .shuffle(&mut order);
        }
        order
    }

    /// The position of the next example.
    pub fn position(&self) -> DataPosition {
        self.pos
    }

    /// The next `count` example indices, continuing into the next epoch when one ends.
    pub fn take(&mut self, count: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(count);
        if self.len == 0 {
            return out;
        }
        while out.len() < count {
            if self.pos.index >= self.len {
                self.pos = DataPosition {
                    epoch: self.pos.epoch + 1,
                    index: 0,
                };
                self.order = self.order_of(self.pos.epoch);
            }
            if let Some(&i) = self.order.get(self.pos.index) {
                out.push(i);
            }
            self.pos.index += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collate_pads_right_and_counts_shifted_targets() {
        let a = Example {
            input_ids: vec![1, 2, 3],
            labels: vec![-100, 2, 3],
        };
        let b = Example::unmasked(vec![4, 5]);
        let mb = collate(&[&a, &b], 0);
        assert_eq!((mb.batch, mb.seq), (2, 3));
        assert_eq!(mb.input_ids, vec![1, 2, 3, 4, 5, 0]);
        assert_eq!(mb.labels, vec![-100, 2, 3, 4, 5, -100]);
        // a: positions 1, 2; b: position 1 (position 0 is never a target after the shift)
        assert_eq!(mb.n_targets, 3);
    }

    #[test]
    fn stream_resumes_mid_epoch_identically() {
        let mut full = DataStream::new(7, 3, true, DataPosition::default());
        let all: Vec<usize> = full.take(20);
        let mut a = DataStream::new(7, 3, true, DataPosition::default());
        let first = a.take(9);
        let mut b = DataStream::new(7, 3, true, a.position());
        let rest = b.take(11);
        assert_eq!([first, rest].concat(), all);
        // each epoch is a permutation, and epochs differ
        let mut e0 = all[..7].to_vec();
        e0.sort_unstable();
        assert_eq!(e0, (0..7).collect::<Vec<_>>());
        assert_ne!(all[..7], all[7..14]);
    }

    #[test]
    fn validation_names_the_bad_example() {
        let good = Example::unmasked(vec![1, 2]);
        let bad = Example {
            input_ids: vec![1, 2],
            labels: vec![-100],
        };
        match validate_examples(&[good.clone(), bad], 10) {
            Err(TrainError::Example { index, .. }) => assert_eq!(index, 1),
            other => panic!("{other:?}"),
        }
        let oov = Example::unmasked(vec![1, 20]);
        assert!(validate_examples(&[good, oov], 10).is_err());
    }
}
