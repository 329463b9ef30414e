//! How many sweep points run side by side under `lpipe run --jobs`: as many as the memory
//! planner says fit in what the machine has free.

use crate::ir::{Device, Pipeline, Run};
use crate::plan::memory::format_gb;

/// What a run process may hold besides the planner's training-step peak (binary, allocator
/// pools, tokenizer, tokenized data). A margin, not a measurement: on SmolLM2-135M (CPU, f32,
/// r=4 on all layers) the planner says 1.65 GB and the whole process peaked at 1.07 GB resident,
/// so the estimate alone already covers it there; the margin is for models where it is tight.
pub const PROCESS_OVERHEAD_BYTES: u64 = 256 << 20;

/// Share of `MemAvailable` the runs may take together (the page cache and the parent keep the rest).
pub const MEMORY_SHARE: f64 = 0.9;

/// How many runs go side by side, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slots {
    /// Runs at once (at least 1).
    pub jobs: usize,
    /// The reason, for the log.
    pub reason: String,
}

/// How many of `runs` go at once with `--jobs requested`, from the planner's estimates and the
/// memory this machine has free (on a GPU, free memory is not known here: one at a time).
pub fn slots_for(pipeline: &Pipeline, runs: &[&Run], requested: usize) -> Slots {
    let per_run: Vec<(String, Option<u64>)> = runs
        .iter()
        .map(|r| (r.name.clone(), super::schedule::estimate(pipeline, &r.name)))
        .collect();
    let on_cpu = runs.iter().all(|r| r.config.model.device == Device::Cpu);
    let available = on_cpu
        .then(crate::io::sysmem::mem_available_bytes)
        .flatten();
    decide(requested, &per_run, available)
}

/// Decides how many of `per_run.len()` pending runs run at once: at most `requested`, and only as
/// many as fit in `available` bytes by the planner's estimates (the largest one counts for all).
pub fn decide(
    requested: usize,
    per_run: &[(String, Option<u64>)],
    available: Option<u64>,
) -> Slots {
    let pending = per_run.len();
    let one = |reason: String| Slots { jobs: 1, reason };
    if requested <= 1 || pending <= 1 {
        return one(format!("{pending} run(s) to do, --jobs {requested}"));
    }
    if let Some((name, _)) = per_run.iter().find(|(_, m)| m.is_none()) {
        return one(format!(
            "no memory estimate for run {name} (`lpipe plan` says why), so one at a time"
        ));
    }
    let Some(available) = available else {
        return one("free memory unknown on this device, so one at a time".into());
    };
    let largest = per_run.iter().filter_map(|(_, m)| *m).max().unwrap_or(0);
    let need = largest.saturating_add(PROCESS_OVERHEAD_BYTES).max(1);
    let budget = (available as f64 * MEMORY_SHARE) as u64;
    let fit = usize::try_from(budget / need).unwrap_or(usize::MAX);
    let jobs = requested.min(pending).min(fit).max(1);
    let why = format!(
        "each run needs about {} (planner {} + {} per process), {} of {} available may be used",
        format_gb(need),
        format_gb(largest),
        format_gb(PROCESS_OVERHEAD_BYTES),
        format_gb(budget),
        format_gb(available)
    );
    if fit < requested.min(pending) {
        Slots {
            jobs,
            reason: format!("{why}: only {} fit", fit.max(1)),
        }
    } else {
        Slots { jobs, reason: why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn runs(n: usize, each: Option<u64>) -> Vec<(String, Option<u64>)> {
        (0..n).map(|i| (format!("r{i}"), each)).collect()
    }

    #[test]
    fn as_many_as_fit_in_memory_and_no_more_than_asked() {
        // 10 GiB free, 90% usable: 9 GiB / (1 GiB + 256 MiB) = 7 runs would fit.
        assert_eq!(decide(4, &runs(6, Some(GIB)), Some(10 * GIB)).jobs, 4);
        assert_eq!(decide(16, &runs(6, Some(GIB)), Some(10 * GIB)).jobs, 6);
        assert_eq!(decide(16, &runs(12, Some(GIB)), Some(10 * GIB)).jobs, 7);
        // 2.5 GiB free: only one fits, so the runs go one after another.
        let slots = decide(4, &runs(4, Some(GIB)), Some(5 * GIB / 2));
        assert_eq!(slots.jobs, 1);
        assert!(slots.reason.contains("only 1 fit"), "{}", slots.reason);
        // The largest run decides for all.
        let mut mixed = runs(3, Some(GIB / 4));
        mixed.push(("big".into(), Some(4 * GIB)));
        assert_eq!(decide(4, &mixed, Some(10 * GIB)).jobs, 2);
    }

    #[test]
    fn unknown_estimates_or_memory_mean_one_at_a_time() {
        let mut r = runs(3, Some(GIB));
        r.push(("mystery".into(), None));
        let slots = decide(4, &r, Some(100 * GIB));
        assert_eq!(slots.jobs, 1);
        assert!(slots.reason.contains("mystery"), "{}", slots.reason);
        assert_eq!(decide(4, &runs(3, Some(GIB)), None).jobs, 1);
        assert_eq!(decide(1, &runs(3, Some(GIB)), Some(100 * GIB)).jobs, 1);
        assert_eq!(decide(8, &runs(1, Some(GIB)), Some(100 * GIB)).jobs, 1);
    }
}
