//! Progress of long work (training epochs, attacks, reclassification), reported to an
//! observer the caller chooses: the `gmvae` binary draws progress bars, a library user may log,
//! collect or ignore it ([`Silent`]).
//!
//! A task is announced with [`Progress::start`], advanced in units of work, and closed with
//! [`Progress::finish`]; [`Progress::note`] carries one finished line of text (an epoch's
//! statistics, a resumed checkpoint) that an observer may print between bars. Observers are
//! shared with worker threads, hence `Sync`; every method has a do-nothing default.

/// Receives progress reports. Every method defaults to doing nothing.
pub trait Progress: Sync {
    /// A task called `label` of `total` units of work begins (replacing any earlier one).
    fn start(&self, label: &str, total: u64) {
        let _ = (label, total);
    }

    /// `units` more units of the current task are done.
    fn advance(&self, units: u64) {
        let _ = units;
    }

    /// A short status for the current task (running loss terms, say).
    fn status(&self, text: &str) {
        let _ = text;
    }

    /// The current task ended.
    fn finish(&self) {}

    /// A complete line worth showing the user (it does not belong to a task).
    fn note(&self, line: &str) {
        let _ = line;
    }
}

/// An observer that ignores every report.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Runs `work` as one task on `progress`: announced, then closed even when `work` fails.
pub fn task<T>(progress: &dyn Progress, label: &str, total: u64, work: impl FnOnce() -> T) -> T {
    progress.start(label, total);
    let result = work();
    progress.finish();
    result
}

/// An observer that keeps every report as one line of text (`start LABEL TOTAL`,
/// `advance N`, `status TEXT`, `finish`, `note LINE`): a log to show later, or to check in a
/// test what a computation reported.
#[derive(Debug, Default)]
pub struct Log(std::sync::Mutex<Vec<String>>);

impl Log {
    /// The lines so far, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
}

impl Progress for Log {
    fn start(&self, label: &str, total: u64) {
        self.push(format!("start {label} {total}"));
    }
    fn advance(&self, units: u64) {
        self.push(format!("advance {units}"));
    }
    fn status(&self, text: &str) {
        self.push(format!("status {text}"));
    }
    fn finish(&self) {
        self.push("finish".to_owned());
    }
    fn note(&self, line: &str) {
        self.push(format!("note {line}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_started_and_finished_around_its_work_even_when_it_fails() {
        let log = Log::default();
        let result: Result<(), &str> = task(&log, "attack", 3, || {
            log.advance(2);
            Err("failed")
        });
        assert_eq!(result, Err("failed"));
        assert_eq!(log.lines(), ["start attack 3", "advance 2", "finish"]);
    }
}
