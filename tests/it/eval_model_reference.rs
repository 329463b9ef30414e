//! The Burn model, as an evaluation `Scorer`, against transformers' per-item log-likelihoods
//! recorded in tests/data/eval_reference (20 documents of each of the 10 acceptance tasks).
//!
//! Tolerance 1e-3 on each summed log-likelihood: both sides run the same dequantized Q4_1 weights in
//! f32; the sums cover up to ~50 continuation tokens and contexts up to 549 tokens, where f32
//! reassociation in attention and matmuls moves a log-probability by ~1e-5 per token. Observed
//! (2026-11-28): largest 6.6e-4 (BLiMP), MMLU 2.8e-5, TruthfulQA 3.0e-4; no greedy flag or decision
//! differs. Slow on a debug-ish test build (497 requests, 92k tokens: ~20 min on the loaded 2-core box).

use burn::tensor::Device;
use lpipe::eval::model_scorer::ModelScorer;
use lpipe::eval::reference::{compare, default_dir, load_dir};

#[test]
fn burn_model_matches_the_transformers_reference() {
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let device = Device::flex();
    let loaded = lpipe::model::load(&gguf, &device).expect("model loads");
    let mut scorer = ModelScorer::new(&loaded.model);
    let mut worst = 0.0f64;
    for file in load_dir(&default_dir()).expect("reference") {
        let c = compare(&mut scorer, &file, 1e-3).expect("scores");
        println!(
            "{:48} requests {:3} max|dll| {:.2e} greedy mismatches {:?} decision mismatches {:?}",
            c.task, c.requests, c.max_abs_diff, c.greedy_mismatches, c.decision_mismatches
        );
        worst = worst.max(c.max_abs_diff);
        assert!(c.agrees(1e-3), "{c:?}");
    }
    println!("largest difference {worst:.2e}");
}
