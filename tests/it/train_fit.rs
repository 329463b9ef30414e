//! The training loop on a tiny bigram LoRA model: accumulation, learning, resume, NaN handling.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use lpipe::train::optim::{AdamWConfig, OptimizerConfig, SgdConfig};
use lpipe::train::schedule::{LrSchedule, ScheduleKind};
use lpipe::train::step::LossNorm;
use lpipe::train::{CheckpointPlan, Event, TrainConfig, TrainError, checkpoint, fit};

use crate::support::train::{BigramLora, bigram_data};

const VOCAB: usize = 16;

fn config(steps: u64) -> TrainConfig {
    TrainConfig {
        optimizer: OptimizerConfig::AdamW(AdamWConfig::default()),
        schedule: LrSchedule {
            kind: ScheduleKind::Cosine,
            base_lr: 3e-2,
            warmup_steps: 2,
            total_steps: steps,
            min_lr_ratio: 0.0,
        },
        max_steps: steps,
        batch_size: 4,
        micro_batch_size: 2,
        max_grad_norm: Some(1.0),
        loss_norm: LossNorm::TokenMean,
        seed: 42,
        shuffle: true,
        pad_id: 0,
        eval_every: Some(5),
        checkpoint_every: Some(2),
        keep_checkpoints: 0,
        eval_batches: None,
        max_time_s: None,
    }
}

fn scratch(name: &str) -> PathBuf {
    lpipe::testing::scratch(&format!("fit-{name}"))
}

fn run(
    model: &mut BigramLora,
    cfg: &TrainConfig,
    plan: &CheckpointPlan,
    stop_after: Option<u64>,
) -> Result<(lpipe::train::FitOutcome, Vec<Event>), TrainError> {
    let data = bigram_data(24, VOCAB);
    let (train, val) = data.split_at(20);
    let stop = AtomicBool::new(false);
    let mut events = Vec::new();
    let out = fit(model, train, val, cfg, plan, &stop, &mut |e| {
        if let (Some(k), Event::Step { step, .. }) = (stop_after, e)
            && *step == k
        {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        events.push(e.clone());
    })?;
    Ok((out, events))
}

#[test]
fn loss_falls_and_validation_is_reported() {
    // `fit` reseeds the backend's generator, process-wide, before every micro-batch.
    let _lock = crate::support::global_lock();
    let mut m = BigramLora::new(VOCAB, 4);
    let (out, events) = run(&mut m, &config(40), &CheckpointPlan::default(), None).unwrap();
    let losses: Vec<f32> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step { stats, .. } => Some(stats.loss),
            _ => None,
        })
        .collect();
    assert_eq!(losses.len(), 40);
    let first = losses[..4].iter().sum::<f32>() / 4.0;
    let last = losses[36..].iter().sum::<f32>() / 4.0;
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let evals = events
        .iter()
        .filter(|e| matches!(e, Event::Eval { .. }))
        .count();
    assert_eq!(evals, 8); // every 5 steps, the last included
    assert!(out.best_val_loss.unwrap() <= out.last_val_loss.unwrap());
}

/// With token-mean normalization, 4 micro-batches of 1 give the same update as one batch of 4
/// (up to f32 summation order: 1e-5 relative over 5 Adam steps).
#[test]
fn gradient_accumulation_matches_full_batch() {
    let _lock = crate::support::global_lock();
    let mut whole = config(5);
    whole.micro_batch_size = 4;
    whole.max_grad_norm = None;
    let mut split = whole.clone();
    split.micro_batch_size = 1;
    let mut a = BigramLora::new(VOCAB, 4);
    let mut b = BigramLora::new(VOCAB, 4);
    run(&mut a, &whole, &CheckpointPlan::default(), None).unwrap();
    run(&mut b, &split, &CheckpointPlan::default(), None).unwrap();
    for (x, y) in a.params().iter().zip(b.params()) {
        assert!((x - y).abs() <= 1e-5 * x.abs().max(1e-3), "{x} vs {y}");
    }
    // and LitGPT-style per-micro-batch means give a different (valid) update on unequal lengths
    let mut lit = split.clone();
    lit.loss_norm = LossNorm::MicroBatchMean;
    let mut c = BigramLora::new(VOCAB, 4);
    run(&mut c, &lit, &CheckpointPlan::default(), None).unwrap();
    assert_ne!(a.params(), c.params());
}

/// Stopping after step 5 and resuming gives bit-identical weights to an uninterrupted run,
/// for AdamW and for SGD with momentum.
#[test]
fn stop_and_resume_is_bit_identical() {
    let _lock = crate::support::global_lock();
    for (i, opt) in [
        OptimizerConfig::AdamW(AdamWConfig::default()),
        OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::default()
        }),
    ]
    .into_iter()
    .enumerate()
    {
        let mut cfg = config(9);
        cfg.optimizer = opt;
        let mut full = BigramLora::new(VOCAB, 4);
        run(&mut full, &cfg, &CheckpointPlan::default(), None).unwrap();

        let root = scratch(&format!("resume{i}"));
        let plan = CheckpointPlan {
            root: Some(root.clone()),
            resume: true,
        };
        let mut first = BigramLora::new(VOCAB, 4);
        let (out, _) = run(&mut first, &cfg, &plan, Some(5)).unwrap();
        assert!(out.interrupted);
        assert_eq!(out.steps, 5);
        assert!(
            checkpoint::latest(&root)
                .unwrap()
                .unwrap()
                .ends_with("step-00000005")
        );

        let mut resumed = BigramLora::new(VOCAB, 4);
        let (out, events) = run(&mut resumed, &cfg, &plan, None).unwrap();
        assert!(matches!(events[0], Event::Resumed { step: 5, .. }));
        assert_eq!(out.steps, 9);
        assert_eq!(resumed.params_bits(), full.params_bits());
        let _ = std::fs::remove_dir_all(&root);
    }
}

#[test]
fn resume_with_different_settings_is_refused() {
    let _lock = crate::support::global_lock();
    let root = scratch("mismatch");
    let plan = CheckpointPlan {
        root: Some(root.clone()),
        resume: true,
    };
    let cfg = config(4);
    run(&mut BigramLora::new(VOCAB, 4), &cfg, &plan, Some(2)).unwrap();
    let mut other = cfg.clone();
    other.seed = 7;
    let err = run(&mut BigramLora::new(VOCAB, 4), &other, &plan, None).unwrap_err();
    assert!(matches!(err, TrainError::ResumeMismatch { .. }), "{err:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// NaN logits at step 4 stop the run with E703 naming the step-2 checkpoint, which stays intact.
#[test]
fn non_finite_loss_stops_and_keeps_last_good_checkpoint() {
    let _lock = crate::support::global_lock();
    let root = scratch("nan");
    let plan = CheckpointPlan {
        root: Some(root.clone()),
        resume: false,
    };
    let mut m = BigramLora::new(VOCAB, 4);
    // 2 micro-batches per step: forwards 7 and 8 belong to step 4
    m.poison_after = Some(6);
    let err = run(&mut m, &config(10), &plan, None).unwrap_err();
    match &err {
        TrainError::NonFinite {
            step, last_good, ..
        } => {
            assert_eq!(*step, 4);
            assert!(last_good.as_ref().unwrap().ends_with("step-00000002"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        checkpoint::latest(&root)
            .unwrap()
            .unwrap()
            .ends_with("step-00000002")
    );
    checkpoint::load(&checkpoint::latest(&root).unwrap().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_settings_and_examples_are_diagnosed() {
    let _lock = crate::support::global_lock();
    let mut cfg = config(3);
    cfg.batch_size = 3;
    let err = run(
        &mut BigramLora::new(VOCAB, 4),
        &cfg,
        &CheckpointPlan::default(),
        None,
    );
    assert!(matches!(
        err,
        Err(TrainError::Config {
            field: "batch_size",
            ..
        })
    ));
    let mut m = BigramLora::new(VOCAB, 4);
    let bad = vec![lpipe::train::Example::unmasked(vec![1, 99])];
    let stop = AtomicBool::new(false);
    let err = fit(
        &mut m,
        &bad,
        &[],
        &config(3),
        &CheckpointPlan::default(),
        &stop,
        &mut |_| {},
    );
    assert!(matches!(err, Err(TrainError::Example { index: 0, .. })));
}
