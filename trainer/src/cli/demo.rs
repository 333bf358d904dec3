//! `gmvae demo`: the README's main command. Trains the paper-sized model on the bundled
//! 10,000 real MNIST digits, calibrates, evaluates on the 1,000 held-out digits, draws the
//! figures, and prints the Table 1 row. Re-running it resumes (or reuses) the run directory.

use super::device::{dispatch, OnDevice};
use super::eval::evaluate;
use super::sample::write_figures;
use super::train::{files, fit, TrainArgs};
use anyhow::Result;
use clap::Args;
use gmvae_trainer::data::{load, Split};
use gmvae_trainer::plot::figures::SampleOptions;
use gmvae_trainer::train::TrainDevice;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `gmvae demo` (the same knobs as `gmvae train`).
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Training settings.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Runs `gmvae demo`.
pub fn run(args: DemoArgs) -> Result<()> {
    let mut train = args.train;
    let dir = train
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs/demo"));
    train.resume = dir.join(files::CHECKPOINT).exists();
    train.out = Some(dir);
    train.config(None).validate()?;
    let split = load(&train.dataset.spec()?)?;
    let device = train.device;
    let summary = dispatch(device, DemoJob { args: train, split })?;
    print!("{summary}");
    Ok(())
}

struct DemoJob {
    args: TrainArgs,
    split: Split,
}

impl OnDevice for DemoJob {
    type Output = String;
    fn run<D: TrainDevice>(self, dev: D) -> Result<String> {
        let dir = self.args.run_dir();
        let start = Instant::now();
        let fitted = fit(&self.args, &self.split, &dev)?;
        let speed = median_speed(&fitted.history);
        let model = fitted.model;
        let model_path = dir.join(files::MODEL);
        model.save(&model_path)?;
        let trained = start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let mut summary = evaluate(&model, &self.split, &dir)?;
        let evaluated = eval_start.elapsed().as_secs_f64();
        let figures = write_figures(
            &model,
            &self.split.test,
            &dir,
            SampleOptions {
                per_class: 10,
                seed: self.args.hyper.seed,
                scale: 3,
            },
        )?;
        for path in figures {
            summary.push_str(&format!("wrote {}\n", path.display()));
        }
        summary.push_str(&format!(
            "wrote {}\n\ntraining + calibration {trained:.1} s ({speed:.0} images/s, the median \
             epoch of the run), evaluation {evaluated:.1} s, wall time {:.1} s\n",
            model_path.display(),
            start.elapsed().as_secs_f64()
        ));
        Ok(summary)
    }
}

/// The median training speed over the run's epochs (0 for a run with none).
fn median_speed(history: &[gmvae_trainer::train::EpochStats]) -> f64 {
    let mut speeds: Vec<f64> = history.iter().map(|e| e.images_per_second).collect();
    speeds.sort_by(f64::total_cmp);
    speeds.get(speeds.len() / 2).copied().unwrap_or(0.0)
}
