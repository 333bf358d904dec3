//! Command-line definitions for the `gmvae` binary; each subcommand lives in its own module.

use clap::{Parser, Subcommand};

pub mod attack;
pub mod bench;
pub mod classify;
pub mod data;
pub mod demo;
pub mod device;
pub mod eval;
pub mod export;
pub mod fixtures;
pub mod input;
pub mod inspect;
pub mod model_bytes;
pub mod reclassify;
pub mod report;
pub mod sample;
pub mod train;

/// Gaussian-mixture VAE classifiers that reject adversarial and fooling inputs.
#[derive(Debug, Parser)]
#[command(name = "gmvae", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `gmvae`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train on the bundled digits, evaluate, draw the figures and print the Table 1 row.
    Demo(demo::DemoArgs),
    /// Train a model, checkpointing every epoch, then calibrate and export it.
    Train(train::TrainArgs),
    /// Evaluate a model: accuracy, error and rejection, confusion matrix, risk–coverage curve.
    Eval(eval::EvalArgs),
    /// Write a model file from a training checkpoint (calibrating its thresholds).
    Export(export::ExportArgs),
    /// Verify a model file and describe it (layers, sizes, thresholds, runtime workspace).
    Inspect(inspect::InspectArgs),
    /// Classify PNG files or IDX entries with the heap-free runtime and print each verdict.
    Classify(classify::ClassifyArgs),
    /// Reclassify test samples by latent search through the decoder (paper §3.5): recovered
    /// rejected samples, or Table 2 on FGSM samples with --fgsm.
    Reclassify(reclassify::ReclassifyArgs),
    /// Draw decoded class means, mixture samples and reconstructions as PNG grids.
    Sample(sample::SampleArgs),
    /// Measure training throughput, optionally beside a PyTorch peer.
    Bench(bench::BenchArgs),
    /// Inspect or import datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Attack a model (FGSM, PGD, MIM, Eq. 10, Eq. 11, adaptive) and write the results.
    #[command(subcommand)]
    Attack(attack::AttackCommand),
    /// Regenerate the whole security report of a model (every attack, worst case per input).
    Report(report::ReportArgs),
    /// Regenerate the golden and broken fixture files (maintainers; see fixtures/README.md).
    #[command(hide = true)]
    Fixtures(fixtures::FixturesArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Export(args) => export::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Reclassify(args) => reclassify::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Data(command) => data::run(command),
        Command::Attack(command) => attack::run(command),
        Command::Report(args) => report::run(args),
        Command::Fixtures(args) => fixtures::run(args),
    }
}

/// Parses a count that must be at least 1 (samples, images): clap's `value_parser` for them.
pub fn positive_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
