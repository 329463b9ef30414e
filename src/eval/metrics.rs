//! Per-document decisions and their aggregation, with the standard errors lm-evaluation-harness reports.
//!
//! Source: lm_eval/api/metrics.py (`mean`, `sample_stddev`, `mean_stderr`, `pooled_sample_stderr`,
//! `aggregate_subtask_metrics`), lm_eval/api/task.py (`process_results` for multiple_choice and
//! loglikelihood) and lm_eval/tasks/truthfulqa/utils.py (`process_results_mc2`).

use serde::{Deserialize, Serialize};

use super::doc::Scoring;
use super::request::LogLikelihood;

/// The verdict on one document.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The metric value of this document (0/1 accuracy, or MC2's probability mass).
    pub value: f64,
    /// The chosen continuation (argmax), where the scoring picks one.
    pub pred: Option<usize>,
}

/// Index of the first maximum, as `np.argmax` (NaN never wins).
pub fn argmax_first(values: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        match best {
            Some((_, b)) if v <= b || v.is_nan() => {}
            _ if v.is_nan() => {}
            _ => best = Some((i, v)),
        }
    }
    best.map(|(i, _)| i)
}

/// MC2: Σ p(true) / Σ p(all) with p = exp(ll), computed relative to the largest ll.
///
/// Subtracting the maximum changes nothing mathematically but avoids the 0/0 that `np.exp` gives
/// when every log-likelihood is below about −745.
pub fn mc2_true_mass(lls: &[f64], labels: &[bool]) -> f64 {
    let max = lls.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return f64::NAN;
    }
    let (mut t, mut all) = (0.0, 0.0);
    for (&ll, &label) in lls.iter().zip(labels) {
        let p = (ll - max).exp();
        all += p;
        if label {
            t += p;
        }
    }
    t / all
}

/// Judges one document from the model's answers to its continuations (in continuation order).
pub fn decide(scoring: &Scoring, answers: &[LogLikelihood]) -> Decision {
    let lls: Vec<f64> = answers.iter().map(|a| a.logprob).collect();
    match scoring {
        Scoring::MultipleChoice { gold } => {
            let pred = argmax_first(&lls);
            let value = if pred == Some(*gold) { 1.0 } else { 0.0 };
            Decision { value, pred }
        }
        Scoring::Mc2 { labels } => {
            // process_results_mc2 splits at the first false label: everything before it is true.
            let split = labels.iter().position(|l| !l).unwrap_or(labels.len());
            let true_prefix: Vec<bool> = (0..labels.len()).map(|i| i < split).collect();
            Decision {
                value: mc2_true_mass(&lls, &true_prefix),
                pred: argmax_first(&lls),
            }
        }
        Scoring::Greedy => {
            let greedy = answers.first().is_some_and(|a| a.is_greedy);
            Decision {
                value: if greedy { 1.0 } else { 0.0 },
                pred: None,
            }
        }
    }
}

/// Arithmetic mean (`mean`); NaN for no values.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Standard error of the mean with Bessel's correction (`mean_stderr`); `None` below two values.
pub fn mean_stderr(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mu = mean(values);
    let var = values.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(var.sqrt() / (n as f64).sqrt())
}

/// A subtask's contribution to a group score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part {
    /// The subtask's metric.
    pub value: f64,
    /// Its standard error.
    pub stderr: Option<f64>,
    /// Its number of documents.
    pub n: usize,
}

/// Group metric (`aggregate_subtask_metrics`): mean of the parts, weighted by size or not.
pub fn group_value(parts: &[Part], weight_by_size: bool) -> f64 {
    let weight = |p: &Part| if weight_by_size { p.n as f64 } else { 1.0 };
    let total: f64 = parts.iter().map(weight).sum();
    parts.iter().map(|p| p.value * weight(p)).sum::<f64>() / total
}

/// Group standard error (`pooled_sample_stderr`), used by lm-evaluation-harness whether or not the
/// group weights by size: sqrt(Σ(nᵢ−1)·nᵢ·seᵢ² / (N − k) / N).
pub fn pooled_stderr(parts: &[Part]) -> Option<f64> {
    let total: usize = parts.iter().map(|p| p.n).sum();
    if total <= parts.len() {
        return None;
    }
    let mut acc = 0.0;
    for p in parts {
        let se = p.stderr?;
        acc += (p.n as f64 - 1.0) * se * se * p.n as f64;
    }
    let var = acc / (total - parts.len()) as f64;
    Some((var / total as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(logprob: f64) -> LogLikelihood {
        LogLikelihood {
            logprob,
            is_greedy: false,
        }
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax_first(&[-1.0, -0.5, -0.5]), Some(1));
        assert_eq!(argmax_first(&[f64::NAN, -3.0]), Some(1));
        assert_eq!(argmax_first(&[]), None);
    }

    #[test]
    fn blimp_tie_counts_as_correct() {
        let d = decide(&Scoring::MultipleChoice { gold: 0 }, &[ll(-4.0), ll(-4.0)]);
        assert_eq!(d.value, 1.0);
    }

    #[test]
    fn mc2_matches_the_direct_formula() {
        let lls = [-1.0, -2.0, -0.5, -3.0];
        let labels = vec![true, true, false, false];
        let p: Vec<f64> = lls.iter().map(|l: &f64| l.exp()).collect();
        let expected = (p[0] + p[1]) / p.iter().sum::<f64>();
        let d = decide(&Scoring::Mc2 { labels }, &lls.map(ll));
        assert!((d.value - expected).abs() < 1e-15);
        // Far below exp's range the direct formula is 0/0; the shifted one still answers.
        let d = decide(
            &Scoring::Mc2 {
                labels: vec![true, false],
            },
            &[ll(-2000.0), ll(-2000.0)],
        );
        assert!((d.value - 0.5).abs() < 1e-15);
    }

    #[test]
    fn greedy_scoring_reads_the_flag() {
        let yes = LogLikelihood {
            logprob: -9.0,
            is_greedy: true,
        };
        assert_eq!(decide(&Scoring::Greedy, &[yes]).value, 1.0);
        assert_eq!(decide(&Scoring::Greedy, &[ll(-0.1)]).value, 0.0);
    }

    #[test]
    fn stderr_is_sample_std_over_sqrt_n() {
        // values 0,1,1,0 → mean .5, sample var 1/3, stderr sqrt(1/3)/2
        let se = mean_stderr(&[0.0, 1.0, 1.0, 0.0]).unwrap();
        assert!((se - (1.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15);
        assert_eq!(mean_stderr(&[1.0]), None);
    }

    #[test]
    fn pooled_stderr_matches_the_concatenation_for_equal_means() {
        // Two subtasks with the same mean: pooled variance equals the concatenated sample variance
        // up to the (N-1)/(N-k) degrees-of-freedom factor.
        let a = [0.0, 1.0, 0.0, 1.0];
        let b = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let parts = [
            Part {
                value: mean(&a),
                stderr: mean_stderr(&a),
                n: 4,
            },
            Part {
                value: mean(&b),
                stderr: mean_stderr(&b),
                n: 6,
            },
        ];
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let concat = mean_stderr(&all).unwrap();
        let pooled = pooled_stderr(&parts).unwrap();
        assert!((pooled - concat * (9.0f64 / 8.0).sqrt()).abs() < 1e-12);
        assert!((group_value(&parts, true) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn unweighted_group_is_the_mean_of_means() {
        let parts = [
            Part {
                value: 1.0,
                stderr: Some(0.0),
                n: 10,
            },
            Part {
                value: 0.0,
                stderr: Some(0.0),
                n: 30,
            },
        ];
        assert_eq!(group_value(&parts, false), 0.5);
        assert_eq!(group_value(&parts, true), 0.25);
    }
}
