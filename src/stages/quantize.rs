//! The `quantize` stage: the frozen base's linears to 4 bits (QLoRA), cached on disk by content
//! hash so that other processes of a sweep find them.

use std::rc::Rc;
use std::time::Instant;

use super::{Artifact, Context, ExecError, Inputs, Stage, log};
use crate::ir::Quantize;

/// Quantizes the base model.
pub struct QuantizeStage<'a> {
    /// The `quantize` block.
    pub settings: &'a Quantize,
}

impl Stage for QuantizeStage<'_> {
    fn settings(&self) -> String {
        serde_json::to_string(self.settings).unwrap_or_default()
    }

    fn shared(&self) -> bool {
        true
    }

    fn consumes_input(&self) -> bool {
        true
    }

    fn run(&self, _: &mut Context, inputs: Inputs) -> Result<Artifact, ExecError> {
        let base = inputs.base()?;
        drop(inputs);
        // Handed over by the executor: the dense weights are freed as they are replaced.
        let mut base = Rc::try_unwrap(base).unwrap_or_else(|shared| (*shared).clone());
        let mut q = self.settings.clone();
        if q.modules.is_empty() {
            q.modules = crate::model::quantize::default_modules();
        }
        let t = Instant::now();
        let model = base.loaded.model.clone();
        let (model, report) = crate::model::quantize::quantize_llama(
            model,
            &q,
            Some(&crate::cache::cache_dir()),
            &base.device,
        )?;
        base.loaded.model = model;
        let how = match (report.cache_hit, &report.cache_file) {
            (true, Some(f)) => format!("cached ({}), not quantized again", f.display()),
            (true, None) => "cached, not quantized again".into(),
            (false, Some(f)) => format!("quantized and cached ({})", f.display()),
            (false, None) => "quantized (no cache directory)".into(),
        };
        log(format!(
            "quantize: {how}; {} {} linears, {} → {} bytes in {:.1}s",
            report.modules.len(),
            q.kind.name(),
            report.dense_bytes,
            report.packed_bytes,
            t.elapsed().as_secs_f64()
        ));
        Ok(Artifact::Base(Rc::new(base)))
    }
}
