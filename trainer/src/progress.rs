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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn start(&self, label: &str, total: u64) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {label} {total}"));
        }
        fn advance(&self, units: u64) {
            self.0.lock().unwrap().push(format!("advance {units}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".to_owned());
        }
    }

    #[test]
    fn a_task_is_started_and_finished_around_its_work_even_when_it_fails() {
        let recorder = Recorder::default();
        let result: Result<(), &str> = task(&recorder, "attack", 3, || {
            recorder.advance(2);
            Err("failed")
        });
        assert_eq!(result, Err("failed"));
        assert_eq!(
            *recorder.0.lock().unwrap(),
            ["start attack 3", "advance 2", "finish"]
        );
    }
}
