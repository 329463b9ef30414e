//! The run's TensorBoard scalars (`train.tensorboard`): training curves from the train stage,
//! scores from the eval stages, in event files in the run directory.

use std::path::Path;

use super::log;
use crate::io::tfevents::EventWriter;

/// An event file that may be off (the key) or broken (a write failed): logging never stops a
/// run, and a failure is said once.
pub struct Board {
    writer: Option<EventWriter>,
}

impl Board {
    /// Opens a new event file in `dir` when `on`.
    pub fn open(on: bool, dir: &Path) -> Board {
        let writer = on.then(|| EventWriter::create(dir)).and_then(|w| {
            w.map_err(|e| {
                log(format!(
                    "tensorboard: cannot create an event file in {}: {e}; not logging",
                    dir.display()
                ))
            })
            .ok()
        });
        Board { writer }
    }

    /// Logs `values` at `step`.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) {
        let Some(writer) = &mut self.writer else {
            return;
        };
        for (tag, value) in values {
            if let Err(e) = writer.scalar(tag, step, *value) {
                log(format!(
                    "tensorboard: cannot write {}: {e}; not logging any more",
                    writer.path().display()
                ));
                self.writer = None;
                return;
            }
        }
    }
}
