//! Training checkpoints: everything needed to continue a run bit for bit.
//!
//! ```text
//! <root>/step-00000100/adapter_config.json        PEFT adapter (loadable on its own)
//!                     /adapter_model.safetensors
//!                     /optimizer.safetensors      exp_avg.<name>, exp_avg_sq.<name> | momentum_buffer.<name>
//!                     /trainer_state.json         step, data position, RNG, schedule, fingerprint
//! <root>/latest                                   "step-00000100", replaced atomically last
//! ```
//! A checkpoint directory is assembled under a temporary name and renamed into place, and
//! `latest` is rewritten only after that, so a kill at any moment leaves the previous
//! checkpoint intact and discoverable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::adapter::Adapter;
use super::batch::DataPosition;
use super::error::TrainError;
use super::optim::{OptimizerConfig, StepCounts};
use super::rng::TrainRng;
use super::schedule::LrSchedule;
use super::tensors::{NamedTensors, from_safetensors_bytes, to_safetensors_bytes};
use crate::io::StagedDir;

/// Version of the checkpoint layout.
pub const FORMAT_VERSION: u32 = 1;
/// Optimizer moments file.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Trainer state file.
pub const STATE_FILE: &str = "trainer_state.json";
/// Pointer to the newest complete checkpoint.
pub const LATEST_FILE: &str = "latest";

/// The small JSON half of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Optimizer steps completed.
    pub step: u64,
    /// Next example of the data stream.
    pub data: DataPosition,
    /// Generator state (dropout seeds).
    pub rng: TrainRng,
    /// Optimizer kind and hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Per-tensor optimizer step counts.
    pub optimizer_steps: StepCounts,
    /// The learning-rate schedule (position = `step`).
    pub schedule: LrSchedule,
    /// Hash of the settings and data this run was started with.
    pub fingerprint: String,
    /// Tokens processed so far.
    pub tokens_seen: u64,
    /// Loss of the last step.
    pub last_loss: Option<f32>,
    /// Lowest validation loss so far.
    pub best_val_loss: Option<f32>,
}

/// A complete checkpoint in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// LoRA settings and weights.
    pub adapter: Adapter,
    /// Optimizer state tensors.
    pub optimizer: NamedTensors,
    /// Everything else.
    pub state: TrainerState,
}

/// The directory name of the checkpoint after `step` optimizer steps.
pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn step_of(name: &str) -> Option<u64> {
    name.strip_prefix("step-")?.parse().ok()
}

/// Writes `ckpt` under `root`, points `latest` at it and removes all but the `keep_last` newest
/// checkpoints (0 keeps all).
pub fn save(root: &Path, ckpt: &Checkpoint, keep_last: usize) -> Result<PathBuf, TrainError> {
    ckpt.adapter.validate()?;
    let name = step_dir_name(ckpt.state.step);
    let target = root.join(&name);
    let weights = ckpt.adapter.weights_bytes()?;
    let optimizer = to_safetensors_bytes(&ckpt.optimizer)?;
    let state = serde_json::to_string_pretty(&ckpt.state).map_err(|e| TrainError::Json {
        path: target.join(STATE_FILE),
        reason: e.to_string(),
    })?;
    let write = |e| TrainError::io("write", &target, e);
    let staged = StagedDir::new(&target).map_err(write)?;
    staged
        .write(
            super::adapter::CONFIG_FILE,
            ckpt.adapter.config.to_json_string().as_bytes(),
        )
        .map_err(write)?;
    staged
        .write(super::adapter::WEIGHTS_FILE, &weights)
        .map_err(write)?;
    staged.write(OPTIMIZER_FILE, &optimizer).map_err(write)?;
    staged.write(STATE_FILE, state.as_bytes()).map_err(write)?;
    let dir = staged.commit().map_err(write)?;
    let latest = root.join(LATEST_FILE);
    crate::io::write_atomic(&latest, name.as_bytes())
        .map_err(|e| TrainError::io("write", &latest, e))?;
    if keep_last > 0 {
        prune(root, keep_last)?;
    }
    Ok(dir)
}

fn complete_steps(root: &Path) -> Result<Vec<(u64, PathBuf)>, TrainError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io("list", root, e)),
    };
    let mut out: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let step = step_of(&e.file_name().to_string_lossy())?;
            let path = e.path();
            path.join(STATE_FILE).is_file().then_some((step, path))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn prune(root: &Path, keep_last: usize) -> Result<(), TrainError> {
    let steps = complete_steps(root)?;
    let n = steps.len().saturating_sub(keep_last);
    for (_, path) in steps.into_iter().take(n) {
        std::fs::remove_dir_all(&path).map_err(|e| TrainError::io("remove", &path, e))?;
    }
    Ok(())
}

/// The newest complete checkpoint under `root`: the one `latest` names, else the highest step.
pub fn latest(root: &Path) -> Result<Option<PathBuf>, TrainError> {
    if let Ok(name) = std::fs::read_to_string(root.join(LATEST_FILE)) {
        let dir = root.join(name.trim());
        if step_of(name.trim()).is_some() && dir.join(STATE_FILE).is_file() {
            return Ok(Some(dir));
        }
    }
    Ok(complete_steps(root)?.pop().map(|(_, p)| p))
}

/// The newest checkpoint under `root` that loads, and the newer ones that did not.
#[derive(Debug)]
pub struct Newest {
    /// Its directory.
    pub dir: PathBuf,
    /// What it holds.
    pub checkpoint: Checkpoint,
    /// Newer checkpoints that could not be read (truncated, corrupted), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Loads the newest readable checkpoint: the one `latest` names, then the others from the
/// highest step down, so a checkpoint damaged after it was written (a truncated file, a bad
/// disk block) costs the steps since the previous one instead of the run. `Ok(None)` when there
/// is none; the newest one's error when none loads (starting over silently would hide it).
pub fn load_newest(root: &Path) -> Result<Option<Newest>, TrainError> {
    let mut candidates: Vec<PathBuf> = latest(root)?.into_iter().collect();
    for (_, dir) in complete_steps(root)?.into_iter().rev() {
        if !candidates.contains(&dir) {
            candidates.push(dir);
        }
    }
    let mut skipped = Vec::new();
    let mut first_error = None;
    for dir in candidates {
        match load(&dir) {
            Ok(checkpoint) => {
                return Ok(Some(Newest {
                    dir,
                    checkpoint,
                    skipped,
                }));
            }
            Err(e) => {
                skipped.push((dir, e.to_string()));
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(None), Err)
}

/// Reads a checkpoint directory.
pub fn load(dir: &Path) -> Result<Checkpoint, TrainError> {
    let adapter = Adapter::load(dir)?;
    let opt_path = dir.join(OPTIMIZER_FILE);
    let bytes = std::fs::read(&opt_path).map_err(|e| TrainError::io("read", &opt_path, e))?;
    let optimizer = from_safetensors_bytes(&opt_path, &bytes)?;
    let state_path = dir.join(STATE_FILE);
    let text =
        std::fs::read_to_string(&state_path).map_err(|e| TrainError::io("read", &state_path, e))?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|e| TrainError::Json {
        path: state_path.clone(),
        reason: e.to_string(),
    })?;
    if state.format_version != FORMAT_VERSION {
        return Err(TrainError::Json {
            path: state_path,
            reason: format!(
                "checkpoint format {} is not the supported {FORMAT_VERSION}",
                state.format_version
            ),
        });
    }
    Ok(Checkpoint {
        adapter,
        optimizer,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::adapter::AdapterConfig;
    use crate::train::optim::AdamWConfig;
    use crate::train::tensors::HostTensor;

    fn sample(step: u64) -> Checkpoint {
        let mut tensors = NamedTensors::new();
        tensors.insert(
            "m.q_proj.lora_A.weight".into(),
            HostTensor::new(vec![2, 3], vec![0.5, -1.0, 2.0, 0.0, 1e-9, 3.0]),
        );
        tensors.insert(
            "m.q_proj.lora_B.weight".into(),
            HostTensor::new(vec![1, 2], vec![0.25, -0.75]),
        );
        let mut optimizer = NamedTensors::new();
        for (k, t) in &tensors {
            optimizer.insert(format!("exp_avg.{k}"), t.clone());
            optimizer.insert(format!("exp_avg_sq.{k}"), t.clone());
        }
        Checkpoint {
            adapter: Adapter {
                config: AdapterConfig {
                    r: 2,
                    lora_alpha: 16.0,
                    lora_dropout: 0.05,
                    target_modules: vec!["q_proj".into()],
                    use_rslora: false,
                    base_model_name_or_path: None,
                },
                tensors,
            },
            optimizer,
            state: TrainerState {
                format_version: FORMAT_VERSION,
                step,
                data: DataPosition { epoch: 1, index: 3 },
                rng: TrainRng::new(9),
                optimizer: OptimizerConfig::AdamW(AdamWConfig::default()),
                optimizer_steps: [("m.q_proj.lora_A.weight".to_string(), step)].into(),
                schedule: LrSchedule::constant(1e-3),
                fingerprint: "abc".into(),
                tokens_seen: 1234,
                last_loss: Some(1.5),
                best_val_loss: None,
            },
        }
    }

    #[test]
    fn save_load_round_trip_and_retention() {
        let root = std::env::temp_dir().join(format!("lpipe-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(latest(&root).unwrap(), None);
        for step in 1..=4 {
            save(&root, &sample(step), 2).unwrap();
        }
        let dir = latest(&root).unwrap().unwrap();
        assert!(dir.ends_with("step-00000004"));
        assert_eq!(load(&dir).unwrap(), sample(4));
        assert_eq!(complete_steps(&root).unwrap().len(), 2);
        // a stale or broken `latest` falls back to the highest complete step
        std::fs::write(root.join(LATEST_FILE), "step-00000099").unwrap();
        assert!(latest(&root).unwrap().unwrap().ends_with("step-00000004"));
        // a half-written directory (no state file) is never chosen
        std::fs::create_dir_all(root.join("step-00000007")).unwrap();
        assert!(latest(&root).unwrap().unwrap().ends_with("step-00000004"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
        let root = std::env::temp_dir().join(format!("lpipe-ckpt-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(load_newest(&root).unwrap().is_none());
        for step in 3..=4 {
            save(&root, &sample(step), 2).unwrap();
        }
        // Truncate the newest one's optimizer state, as a disk error after the commit would.
        let opt = root.join("step-00000004").join(OPTIMIZER_FILE);
        let bytes = std::fs::read(&opt).unwrap();
        std::fs::write(&opt, &bytes[..bytes.len() / 2]).unwrap();
        let newest = load_newest(&root).unwrap().expect("the older one loads");
        assert!(newest.dir.ends_with("step-00000003"));
        assert_eq!(newest.checkpoint, sample(3));
        assert_eq!(newest.skipped.len(), 1);
        assert!(newest.skipped[0].0.ends_with("step-00000004"));
        // Both damaged: the newest's error, not a silent fresh start.
        let opt = root.join("step-00000003").join(OPTIMIZER_FILE);
        std::fs::write(&opt, b"not safetensors").unwrap();
        let err = load_newest(&root).unwrap_err().to_string();
        assert!(err.contains("step-00000004"), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
