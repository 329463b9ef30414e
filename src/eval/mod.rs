//! Evaluation tasks defined as in lm-evaluation-harness, and their metrics.
