//! Progress bars on stderr: the binary's observer of the library's long work.

use gmvae_trainer::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;

/// Draws one indicatif bar per task on stderr and prints notes above it.
#[derive(Default)]
pub struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(current) = self.current.lock() {
            if let Some(bar) = current.as_ref() {
                f(bar);
            }
        }
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_owned());
        if let Ok(mut current) = self.current.lock() {
            if let Some(old) = current.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, units: u64) {
        self.with_bar(|bar| bar.inc(units));
    }

    fn status(&self, text: &str) {
        self.with_bar(|bar| bar.set_message(text.to_owned()));
    }

    fn finish(&self) {
        if let Ok(mut current) = self.current.lock() {
            if let Some(bar) = current.take() {
                bar.finish_and_clear();
            }
        }
    }

    fn note(&self, line: &str) {
        let mut printed = false;
        self.with_bar(|bar| {
            bar.suspend(|| eprintln!("{line}"));
            printed = true;
        });
        if !printed {
            eprintln!("{line}");
        }
    }
}
