//! Acceptance: a training process killed with SIGKILL partway resumes from its last checkpoint
//! and ends with adapter weights bit-identical to an uninterrupted run with the same seed.
//!
//! The child (this test binary, re-run with an environment variable) prints a ready line from
//! inside step [`HOLD`] — after the optimizer update, before that step's checkpoint — and waits
//! there to be killed, so the kill lands at the same point however loaded the machine is.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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

use crate::support::train::{BigramLora, bigram_data};

const VOCAB: usize = 16;
const STEPS: u64 = 60;
const CHILD_ENV: &str = "LPIPE_TRAIN_RESUME_CHILD";
/// The step inside which the child stops and waits for SIGKILL.
const HOLD: u64 = 12;
/// What the child prints once it holds.
const READY: &str = "lpipe-test-ready";

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
        eval_batches: None,
        max_time_s: None,
    }
}

/// The tiny Llama of ../shared/golden/lora_step with fresh LoRA (dropout 0.1, so the dropout
/// RNG is part of what must replay) on q, v and the MLP; `None` when the golden files are absent.
fn tiny_llama() -> Option<LlamaLora> {
    let dir = lpipe::testing::shared()?.join("golden/lora_step");
    let base = SafetensorsFile::open(&dir.join("base_model.safetensors")).unwrap();
    let llama = LlamaConfig::new(256, 64, 128, 2, 4, 2, 16)
        .with_rope_theta(10_000.0)
        .with_rms_norm_eps(1e-5)
        .with_max_seq_len(128)
        .with_tie_word_embeddings(false)
        .init_from(&base, InitOptions { native_gqa: false }, &Device::flex())
        .unwrap();
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
    Some(LlamaLora::new(llama, cfg, &device).unwrap())
}

fn bits<M: LoraModel>(m: &M) -> Vec<u32> {
    adapter_of(m)
        .unwrap()
        .tensors
        .values()
        .flat_map(|t| t.data.iter().map(|x| x.to_bits()))
        .collect()
}

/// Trains (resuming when a checkpoint exists); with `hold`, prints [`READY`] during step [`HOLD`]
/// and never returns.
fn train_model<M: LoraModel>(mut m: M, vocab: usize, root: Option<&Path>, hold: bool) -> M {
    let data = bigram_data(30, vocab);
    let (tr, val) = data.split_at(26);
    let plan = CheckpointPlan {
        root: root.map(Path::to_path_buf),
        resume: true,
    };
    let stop = AtomicBool::new(false);
    fit(&mut m, tr, val, &config(), &plan, &stop, &mut |e| {
        if hold && matches!(e, Event::Step { step: HOLD, .. }) {
            println!("{READY}");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    })
    .unwrap();
    m
}

fn train(model: &str, root: Option<&Path>, hold: bool) -> Vec<u32> {
    match model {
        "llama" => bits(&train_model(tiny_llama().unwrap(), 256, root, hold)),
        _ => bits(&train_model(BigramLora::new(VOCAB, 4), VOCAB, root, hold)),
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
            let name = crate::support::test_name(module_path!(), test);
            assert_eq!(std::env::args().nth(1), Some(name));
            train(model, Some(Path::new(&root)), true);
            true
        }
        None => false,
    }
}

#[test]
fn sigkill_then_resume_gives_bit_identical_adapter() {
    // Backends seed one generator per process: tests that train must not interleave.
    let _lock = crate::support::global_lock();
    let test = "sigkill_then_resume_gives_bit_identical_adapter";
    if !child(test, "bigram") {
        kill_and_resume(test, "bigram");
    }
}

#[test]
fn sigkill_then_resume_tiny_llama_with_dropout() {
    // Held from here: `tiny_llama` seeds the generator and draws the adapters' init.
    let _lock = crate::support::global_lock();
    let test = "sigkill_then_resume_tiny_llama_with_dropout";
    if tiny_llama().is_none() {
        return;
    }
    if !child(test, "llama") {
        kill_and_resume(test, "llama");
    }
}

fn kill_and_resume(test: &str, model: &str) {
    let reference = train(model, None, false);

    let root: PathBuf = lpipe::testing::scratch(&format!("sigkill-{model}"));
    let _ = std::fs::remove_dir_all(&root);
    let name = crate::support::test_name(module_path!(), test);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, &root)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut ready = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        // libtest prints `test <name> ... ` before the test's own output, on the same line.
        if line.ends_with(READY) {
            ready = true;
            break;
        }
        seen.push(line);
    }
    assert!(ready, "the child ended before step {HOLD}: {seen:?}");
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let killed_at = latest_step(&root);
    // Killed inside step HOLD, before its checkpoint: the one before it is the newest.
    assert_eq!(killed_at, HOLD - 1, "{seen:?}");

    let resumed = train(model, Some(&root), false);
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
