//! A terminal progress bar for [`super::evaluate`]: one bar per task on stderr (hidden when stderr
//! is not a terminal, as indicatif does).

use indicatif::{ProgressBar, ProgressStyle};

use super::runner::Progress;

/// A progress callback that draws one bar per task.
pub fn progress_bar() -> impl FnMut(&Progress) {
    let style = ProgressStyle::with_template(
        "{prefix:40} [{bar:30}] {pos}/{len} docs  {elapsed} (eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let mut current: Option<(String, ProgressBar)> = None;
    move |p: &Progress| {
        if current.as_ref().is_none_or(|(task, _)| task != p.task) {
            if let Some((_, bar)) = current.take() {
                bar.finish();
            }
            let bar = ProgressBar::new(p.docs_total as u64).with_style(style.clone());
            bar.set_prefix(format!(
                "[{}/{}] {}",
                p.task_index + 1,
                p.task_count,
                p.task
            ));
            current = Some((p.task.to_string(), bar));
        }
        if let Some((_, bar)) = &current {
            bar.set_position(p.docs_done as u64);
            if p.docs_done >= p.docs_total {
                bar.finish();
            }
        }
    }
}

/// A progress callback for logs (stderr not a terminal): one line per finished task, with its time.
pub fn progress_log() -> impl FnMut(&Progress) {
    let mut started = std::time::Instant::now();
    let mut reported: Option<String> = None;
    move |p: &Progress| {
        if p.docs_done == 0 {
            started = std::time::Instant::now();
        }
        if p.docs_done >= p.docs_total && reported.as_deref() != Some(p.task) {
            eprintln!(
                "lpipe: eval [{}/{}] {}: {} docs in {:.1}s",
                p.task_index + 1,
                p.task_count,
                p.task,
                p.docs_total,
                started.elapsed().as_secs_f64()
            );
            reported = Some(p.task.to_string());
        }
    }
}
