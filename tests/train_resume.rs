//! Acceptance: a training process killed with SIGKILL partway resumes from its last checkpoint
//! and ends with adapter weights bit-identical to an uninterrupted run with the same seed.

mod train_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use lpipe::model::safetensors::SafetensorsFile;
use lpipe::nn::LlamaConfig;
use lpipe::nn::init::InitOptions;
use lpipe::train::llama::LlamaLora;
use lpipe::train::model::adapter_of;
use lpipe::train::optim::{AdamWConfig, OptimizerConfig};
use lpipe::train::schedule::{LrSchedule, ScheduleKind};
use lpipe::train::step::LossNorm;
use lpipe::train::{
    Adapter, AdapterConfig, CheckpointPlan, Event, LoraModel, TrainConfig, checkpoint, fit,
};
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

/// The tiny Llama of ../shared/golden/lora_step with fresh LoRA (dropout 0.1, so the dropout
/// RNG is part of what must replay) on q, v and the MLP; `None` when the golden files are absent.
fn tiny_llama() -> Option<LlamaLora> {
    let dir = lpipe::cache::shared_dir()?.join("golden/lora_step");
    let base = SafetensorsFile::open(&dir.join("base_model.safetensors")).ok()?;
    let llama = LlamaConfig::new(256, 64, 128, 2, 4, 2, 16)
        .with_rope_theta(10_000.0)
        .with_rms_norm_eps(1e-5)
        .with_max_seq_len(128)
        .with_tie_word_embeddings(false)
        .init_from(&base, InitOptions { native_gqa: false }, &Device::flex())
        .ok()?;
    let device = Device::flex().autodiff();
    // PEFT-style init draws from the device generator: seed it so every process starts equal.
    device.seed(99);
    let cfg = AdapterConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.1,
        target_modules: vec!["q_proj".into(), "v_proj".into(), "up_proj".into()],
        use_rslora: false,
        base_model_name_or_path: None,
    };
    LlamaLora::new(llama, cfg, &device).ok()
}

fn bits<M: LoraModel>(m: &M) -> Vec<u32> {
    adapter_of(m)
        .unwrap()
        .tensors
        .values()
        .flat_map(|t| t.data.iter().map(|x| x.to_bits()))
        .collect()
}

/// Trains (resuming when a checkpoint exists); `pace` slows each step so the parent can kill
/// the process at an arbitrary point.
fn train_model<M: LoraModel>(mut m: M, vocab: usize, root: Option<&Path>, pace: Duration) -> M {
    let data = bigram_data(30, vocab);
    let (tr, val) = data.split_at(26);
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

fn train(model: &str, root: Option<&Path>, pace: Duration) -> Vec<u32> {
    match model {
        "llama" => bits(&train_model(tiny_llama().unwrap(), 256, root, pace)),
        _ => bits(&train_model(BigramLora::new(VOCAB, 4), VOCAB, root, pace)),
    }
}

fn latest_step(root: &Path) -> u64 {
    checkpoint::latest(root)
        .ok()
        .flatten()
        .and_then(|d| checkpoint::load(&d).ok())
        .map_or(0, |c| c.state.step)
}

/// Runs the child role when the environment asks for it; returns whether it did.
fn child(test: &str, model: &str) -> bool {
    match std::env::var_os(CHILD_ENV) {
        Some(root) => {
            assert_eq!(std::env::args().nth(1).as_deref(), Some(test));
            train(model, Some(Path::new(&root)), Duration::from_millis(25));
            true
        }
        None => false,
    }
}

#[test]
fn sigkill_then_resume_gives_bit_identical_adapter() {
    let test = "sigkill_then_resume_gives_bit_identical_adapter";
    if !child(test, "bigram") {
        kill_and_resume(test, "bigram");
    }
}

#[test]
fn sigkill_then_resume_tiny_llama_with_dropout() {
    let test = "sigkill_then_resume_tiny_llama_with_dropout";
    if tiny_llama().is_none() {
        println!("skipped: ../shared/data not found");
        return;
    }
    if !child(test, "llama") {
        kill_and_resume(test, "llama");
    }
}

/// Backends seed one generator per process: tests that train must not interleave.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kill_and_resume(test: &str, model: &str) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reference = train(model, None, Duration::ZERO);

    let root: PathBuf =
        std::env::temp_dir().join(format!("lpipe-sigkill-{model}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1"])
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

    let resumed = train(model, Some(&root), Duration::ZERO);
    assert_eq!(latest_step(&root), STEPS);
    let differing = resumed
        .iter()
        .zip(&reference)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(resumed.len(), reference.len());
    assert_eq!(
        differing,
        0,
        "{differing} of {} weights differ",
        reference.len()
    );
    // the final checkpoint's adapter is the same, bit for bit
    let adapter = Adapter::load(&checkpoint::latest(&root).unwrap().unwrap()).unwrap();
    let saved: Vec<u32> = adapter
        .tensors
        .values()
        .flat_map(|t| t.data.iter().map(|x| x.to_bits()))
        .collect();
    assert!(
        saved == reference,
        "the saved adapter differs from the reference"
    );
    println!("killed after checkpoint {killed_at}, resumed to {STEPS}");
    let _ = std::fs::remove_dir_all(&root);
}
