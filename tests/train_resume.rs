//! Acceptance: a training process killed with SIGKILL partway resumes from its last checkpoint
//! and ends with adapter weights bit-identical to an uninterrupted run with the same seed.

mod train_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use lpipe::train::optim::{AdamWConfig, OptimizerConfig};
use lpipe::train::schedule::{LrSchedule, ScheduleKind};
use lpipe::train::step::LossNorm;
use lpipe::train::{Adapter, CheckpointPlan, Event, TrainConfig, checkpoint, fit};
use train_support::{BigramLora, bigram_data};

const VOCAB: usize = 16;
const STEPS: u64 = 60;
const CHILD_ENV: &str = "LPIPE_TRAIN_RESUME_CHILD";

fn config() -> TrainConfig {
    TrainConfig {
        optimizer: OptimizerConfig::AdamW(AdamWConfig::default()),
        schedule: LrSchedule {
            kind: ScheduleKind::Cosine,
            base_lr: 2e-2,
            warmup_steps: 5,
            total_steps: STEPS,
            min_lr_ratio: 0.1,
        },
        max_steps: STEPS,
        batch_size: 4,
        micro_batch_size: 2,
        max_grad_norm: Some(1.0),
        loss_norm: LossNorm::TokenMean,
        seed: 1234,
        shuffle: true,
        pad_id: 0,
        eval_every: Some(10),
        checkpoint_every: Some(1),
        keep_checkpoints: 2,
    }
}

/// Trains (resuming when a checkpoint exists); `pace` slows each step so the parent can kill
/// the process at an arbitrary point.
fn train(root: Option<&Path>, pace: Duration) -> BigramLora {
    let data = bigram_data(30, VOCAB);
    let (tr, val) = data.split_at(26);
    let mut m = BigramLora::new(VOCAB, 4);
    let plan = CheckpointPlan {
        root: root.map(Path::to_path_buf),
        resume: true,
    };
    let stop = AtomicBool::new(false);
    fit(&mut m, tr, val, &config(), &plan, &stop, &mut |e| {
        if matches!(e, Event::Step { .. }) {
            std::thread::sleep(pace);
        }
    })
    .unwrap();
    m
}

fn latest_step(root: &Path) -> u64 {
    checkpoint::latest(root)
        .ok()
        .flatten()
        .and_then(|d| checkpoint::load(&d).ok())
        .map_or(0, |c| c.state.step)
}

#[test]
fn sigkill_then_resume_gives_bit_identical_adapter() {
    if let Some(root) = std::env::var_os(CHILD_ENV) {
        train(Some(Path::new(&root)), Duration::from_millis(25));
        return;
    }
    let reference = train(None, Duration::ZERO);

    let root: PathBuf = std::env::temp_dir().join(format!("lpipe-sigkill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "sigkill_then_resume_gives_bit_identical_adapter",
            "--exact",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &root)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while latest_step(&root) < 12 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "child made no progress"
        );
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let killed_at = latest_step(&root);
    assert!(killed_at < STEPS, "the child finished before it was killed");

    let resumed = train(Some(&root), Duration::ZERO);
    assert_eq!(latest_step(&root), STEPS);
    assert_eq!(resumed.params_bits(), reference.params_bits());
    // the final checkpoint's adapter is the same, bit for bit
    let adapter = Adapter::load(&checkpoint::latest(&root).unwrap().unwrap()).unwrap();
    let saved: Vec<u32> = adapter
        .tensors
        .values()
        .flat_map(|t| t.data.iter().map(|x| x.to_bits()))
        .collect();
    assert_eq!(saved, reference.params_bits());
    println!("killed after checkpoint {killed_at}, resumed to {STEPS}");
    let _ = std::fs::remove_dir_all(&root);
}
