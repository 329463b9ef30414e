//! Learning-rate schedules with linear warmup, stepped once per optimizer step.
//!
//! The formulas are Hugging Face's `get_{constant,linear,cosine}_schedule_with_warmup` (and
//! `get_cosine_with_min_lr_schedule_with_warmup` when `min_lr_ratio > 0`) driven by `LambdaLR`:
//! the k-th optimizer update (k = 0, 1, …) uses `base_lr * lambda(k)`, so with warmup the very
//! first update has learning rate 0, exactly as in transformers' Trainer and LitGPT.

use serde::{Deserialize, Serialize};

use super::error::TrainError;

/// The shape of the schedule after warmup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// `base_lr` after warmup.
    Constant,
    /// Linear decay to 0 at `total_steps`.
    Linear,
    /// Half-cosine decay to `min_lr_ratio * base_lr` at `total_steps`.
    Cosine,
}

/// A learning-rate schedule over optimizer steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Post-warmup shape.
    pub kind: ScheduleKind,
    /// Peak learning rate.
    pub base_lr: f64,
    /// Optimizer steps of linear warmup from 0.
    pub warmup_steps: u64,
    /// Optimizer steps in the whole run (end of the decay).
    pub total_steps: u64,
    /// Floor of the cosine decay as a fraction of `base_lr` (0 = HF's plain cosine).
    #[serde(default)]
    pub min_lr_ratio: f64,
}

impl LrSchedule {
    /// A constant learning rate without warmup.
    pub fn constant(base_lr: f64) -> Self {
        LrSchedule {
            kind: ScheduleKind::Constant,
            base_lr,
            warmup_steps: 0,
            total_steps: 0,
            min_lr_ratio: 0.0,
        }
    }

    /// Rejects negative or non-finite rates and a warmup longer than a decaying run.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.base_lr.is_finite() && self.base_lr >= 0.0) {
            return Err(TrainError::config(
                "learning_rate",
                format!("must be a finite number >= 0, got {}", self.base_lr),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return Err(TrainError::config(
                "min_lr_ratio",
                format!("must be in [0, 1], got {}", self.min_lr_ratio),
            ));
        }
        if self.kind != ScheduleKind::Constant && self.warmup_steps > self.total_steps {
            return Err(TrainError::config(
                "warmup_steps",
                format!(
                    "{} warmup steps exceed the {} steps of the run",
                    self.warmup_steps, self.total_steps
                ),
            ));
        }
        Ok(())
    }

    /// The multiplier of `base_lr` for the update after `step` completed optimizer steps.
    pub fn factor(&self, step: u64) -> f64 {
        // 1. linear warmup (HF divides by max(1, warmup))
        if step < self.warmup_steps {
            return step as f64 / self.warmup_steps.max(1) as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        // 2. decay over the remaining steps
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Linear => (self.total_steps as f64 - step as f64).max(0.0) / decay_steps,
            ScheduleKind::Cosine => {
                let progress = (step - self.warmup_steps) as f64 / decay_steps;
                // num_cycles = 0.5: one half-cosine from 1 to 0.
                let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                if self.min_lr_ratio > 0.0 {
                    // HF's min-lr variant does not clamp at 0 first; past the end it rises again.
                    cos * (1.0 - self.min_lr_ratio) + self.min_lr_ratio
                } else {
                    cos.max(0.0)
                }
            }
        }
    }

    /// The learning rate of the update after `step` completed optimizer steps.
    pub fn lr(&self, step: u64) -> f64 {
        self.base_lr * self.factor(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: ScheduleKind, warmup: u64, total: u64) -> LrSchedule {
        LrSchedule {
            kind,
            base_lr: 1e-3,
            warmup_steps: warmup,
            total_steps: total,
            min_lr_ratio: 0.0,
        }
    }

    /// Values printed by transformers 5.24 (`get_*_schedule_with_warmup(opt, 3, 10)`, base lr 1e-3,
    /// `[s.get_last_lr()[0] for each of 12 steps]`), see scripts/reference/lr_schedules.py.
    #[test]
    fn matches_transformers_schedules() {
        let cosine = [
            0.0,
            0.0003333333333333333,
            0.0006666666666666666,
            0.001,
            0.0009504844339512095,
            0.0008117449009293668,
            0.0006112604669781572,
            0.00038873953302184284,
            0.00018825509907063325,
            4.9515566048790485e-05,
            0.0,
            4.951556604879043e-05,
        ];
        let linear = [
            0.0,
            0.0003333333333333333,
            0.0006666666666666666,
            0.001,
            0.0008571428571428571,
            0.0007142857142857143,
            0.0005714285714285714,
            0.00042857142857142855,
            0.0002857142857142857,
            0.00014285714285714284,
            0.0,
            0.0,
        ];
        let c = sched(ScheduleKind::Cosine, 3, 10);
        let l = sched(ScheduleKind::Linear, 3, 10);
        for k in 0..12u64 {
            // f64 formulas evaluated in the same order as Python's: equal to a few ulps.
            assert!(
                (c.lr(k) - cosine[k as usize]).abs() < 1e-15,
                "cosine step {k}"
            );
            assert!(
                (l.lr(k) - linear[k as usize]).abs() < 1e-15,
                "linear step {k}"
            );
        }
        let k = sched(ScheduleKind::Constant, 3, 10);
        assert_eq!(k.lr(0), 0.0);
        assert_eq!(k.lr(3), 1e-3);
        assert_eq!(k.lr(1000), 1e-3);
    }

    #[test]
    fn min_lr_ratio_floors_cosine() {
        let mut c = sched(ScheduleKind::Cosine, 0, 10);
        c.min_lr_ratio = 0.1;
        assert!((c.lr(10) - 1e-4).abs() < 1e-18);
        assert!((c.lr(0) - 1e-3).abs() < 1e-18);
    }

    #[test]
    fn rejects_warmup_longer_than_run() {
        assert!(sched(ScheduleKind::Cosine, 20, 10).validate().is_err());
        assert!(sched(ScheduleKind::Cosine, 2, 10).validate().is_ok());
    }
}
