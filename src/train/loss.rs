//! Causal-LM cross-entropy over unmasked targets, as Hugging Face computes it.
//!
//! Logits at position t predict the label at t + 1 (`logits[:, :-1]` against `labels[:, 1:]`);
//! labels equal to -100 are skipped. Only the kept rows go through log-softmax, which gives the
//! same values and gradients as masking while skipping prompt and padding positions.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::batch::{IGNORE_INDEX, MicroBatch};
use super::error::TrainError;

/// Rows of the flattened `[batch * (seq - 1), vocab]` logits that carry a loss, and their targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftedTargets {
    /// Row `b * (seq - 1) + t` for logit position t of row b.
    pub rows: Vec<i64>,
    /// Target token of each kept row.
    pub targets: Vec<i64>,
    /// The same rows as flat input positions `b * seq + t` (for models that compute only them).
    pub positions: Vec<i64>,
}

/// The kept rows and targets of a micro-batch after the next-token shift.
pub fn shifted_targets(mb: &MicroBatch) -> ShiftedTargets {
    let mut rows = Vec::with_capacity(mb.n_targets);
    let mut targets = Vec::with_capacity(mb.n_targets);
    let mut positions = Vec::with_capacity(mb.n_targets);
    if mb.seq >= 2 {
        for b in 0..mb.batch {
            for t in 0..mb.seq - 1 {
                let label = mb.labels.get(b * mb.seq + t + 1).copied();
                if let Some(l) = label.filter(|&l| l != IGNORE_INDEX) {
                    rows.push((b * (mb.seq - 1) + t) as i64);
                    positions.push((b * mb.seq + t) as i64);
                    targets.push(l);
                }
            }
        }
    }
    ShiftedTargets {
        rows,
        targets,
        positions,
    }
}

/// Sum over rows of `-log softmax(logits)[target]` for logits `[n, vocab]` that hold exactly the
/// kept rows of `st`, in order (see [`crate::train::LoraModel::forward_positions`]).
pub fn cross_entropy_rows(logits: Tensor<2>, st: &ShiftedTargets) -> Result<Tensor<1>, TrainError> {
    let [n, vocab] = logits.dims();
    let device = logits.device();
    if st.targets.is_empty() {
        return Ok(Tensor::<1>::zeros([1], &device));
    }
    if n != st.targets.len() {
        return Err(TrainError::Model {
            reason: format!("{n} logit rows for {} targets", st.targets.len()),
        });
    }
    if let Some(&t) = st.targets.iter().find(|&&t| t < 0 || t >= vocab as i64) {
        return Err(TrainError::Example {
            index: 0,
            reason: format!("label {t} is outside the vocabulary of {vocab}"),
        });
    }
    let targets = Tensor::<2, Int>::from_data(TensorData::new(st.targets.clone(), [n, 1]), &device);
    Ok(log_softmax(logits, 1).gather(1, targets).sum().neg())
}

/// Sum over kept targets of `-log softmax(logits)[target]`, a one-element tensor that carries
/// gradients when `logits` does. Divide by the token count (or as the accumulation mode says).
pub fn cross_entropy_sum(logits: Tensor<3>, st: &ShiftedTargets) -> Result<Tensor<1>, TrainError> {
    let [batch, seq, vocab] = logits.dims();
    let device = logits.device();
    if st.rows.is_empty() {
        return Ok(Tensor::<1>::zeros([1], &device));
    }
    if let Some(&t) = st.targets.iter().find(|&&t| t < 0 || t >= vocab as i64) {
        return Err(TrainError::Example {
            index: 0,
            reason: format!("label {t} is outside the vocabulary of {vocab}"),
        });
    }
    let n_rows = batch * seq.saturating_sub(1);
    if st.rows.iter().any(|&r| r < 0 || r >= n_rows as i64) {
        return Err(TrainError::Model {
            reason: format!(
                "logits of shape [{batch}, {seq}, {vocab}] are too short for the labels"
            ),
        });
    }
    let n = st.rows.len();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(st.rows.clone(), [n]), &device);
    let targets = Tensor::<2, Int>::from_data(TensorData::new(st.targets.clone(), [n, 1]), &device);
    let flat = logits
        .slice([0..batch, 0..seq - 1, 0..vocab])
        .reshape([n_rows, vocab])
        .select(0, rows);
    let logp = log_softmax(flat, 1).gather(1, targets);
    Ok(logp.sum().neg())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::batch::{Example, collate};
    use burn::tensor::Device;

    #[test]
    fn shift_drops_first_label_and_ignored_positions() {
        let a = Example {
            input_ids: vec![5, 6, 7, 8],
            labels: vec![5, -100, 7, 8],
        };
        let b = Example::unmasked(vec![1, 2]);
        let st = shifted_targets(&collate(&[&a, &b], 0));
        // seq 4: row b*3 + t predicts labels[b][t+1]; position b*4 + t
        assert_eq!(st.rows, vec![1, 2, 3]);
        assert_eq!(st.positions, vec![1, 2, 4]);
        assert_eq!(st.targets, vec![7, 8, 2]);
    }

    /// Against a hand-computed log-softmax in f64 (the f32 result agrees to ~1e-7 relative).
    #[test]
    fn matches_direct_formula() {
        let device = Device::flex();
        let vals: Vec<f32> = (0..2 * 3 * 4)
            .map(|i| ((i * 7 % 11) as f32) * 0.3 - 1.0)
            .collect();
        let logits = Tensor::<3>::from_data(TensorData::new(vals.clone(), [2, 3, 4]), &device);
        let mb = MicroBatch {
            batch: 2,
            seq: 3,
            input_ids: vec![0; 6],
            labels: vec![-100, 3, 1, 0, -100, 2],
            n_targets: 3,
        };
        let st = shifted_targets(&mb);
        let got = cross_entropy_sum(logits, &st)
            .unwrap()
            .try_into_vec_as::<f32>()
            .unwrap()[0];
        let mut want = 0.0f64;
        for (&r, &t) in st.rows.iter().zip(&st.targets) {
            let (b, pos) = (r as usize / 2, r as usize % 2);
            let row: Vec<f64> = (0..4)
                .map(|v| f64::from(vals[(b * 3 + pos) * 4 + v]))
                .collect();
            let lse = row.iter().map(|x| x.exp()).sum::<f64>().ln();
            want += lse - row[t as usize];
        }
        assert!(
            ((f64::from(got) - want) / want).abs() < 1e-6,
            "{got} vs {want}"
        );
    }

    #[test]
    fn out_of_vocabulary_label_is_an_error() {
        let device = Device::flex();
        let logits = Tensor::<3>::zeros([1, 2, 4], &device);
        let st = ShiftedTargets {
            rows: vec![0],
            targets: vec![9],
            positions: vec![0],
        };
        assert!(cross_entropy_sum(logits, &st).is_err());
    }
}
