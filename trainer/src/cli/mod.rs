//! Command-line definitions for the `gmvae` binary; each subcommand lives in its own module.

use clap::{Parser, Subcommand};
use gmvae_trainer::choice::Choice;

pub mod attack;
pub mod attack_reclassify;
pub mod bench;
pub mod classify;
pub mod data;
pub mod demo;
pub mod device;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod model_bytes;
pub mod pool_reports;
pub mod progress;
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
    /// Pool each model's security reports over their input samples: one table and one chart
    /// of the worst case with 95 % intervals, and goals judged in whole inputs.
    PoolReports(pool_reports::PoolReportsArgs),
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
        Command::PoolReports(args) => pool_reports::run(args),
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

/// clap's parser for a library setting with named values ([`Choice`]): `--help` lists each
/// value with its description, and a wrong name is refused with the list of valid ones.
pub fn choice<T: Choice>() -> ChoiceParser<T> {
    ChoiceParser(std::marker::PhantomData)
}

/// The value parser [`choice`] returns.
#[derive(Clone, Copy, Debug)]
pub struct ChoiceParser<T>(std::marker::PhantomData<T>);

impl<T: Choice> ChoiceParser<T> {
    /// Every value with its description and aliases, as clap lists and matches them.
    fn values() -> impl Iterator<Item = clap::builder::PossibleValue> {
        T::ALL.iter().map(|c| {
            clap::builder::PossibleValue::new(c.name())
                .help(c.about())
                .aliases(c.aliases().iter().copied())
        })
    }
}

impl<T: Choice> clap::builder::TypedValueParser for ChoiceParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        // The possible-values parser validates and words the error; every name it accepts is
        // one of T's, so the lookup after it only fails if the two lists disagree.
        let name =
            clap::builder::PossibleValuesParser::new(Self::values()).parse_ref(cmd, arg, value)?;
        T::from_name(&name).ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("unknown value {name:?}\n"),
            )
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(Self::values()))
    }
}

/// Text from a file (a dataset or class name) as it may be printed on a terminal: control
/// characters (escape sequences, carriage returns, …) are shown escaped, `\u{1b}`, instead of
/// acting on the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("seven\u{1b}[2J\r"), "seven\\u{1b}[2J\\r");
        assert_eq!(printable("Ankle boot"), "Ankle boot");
    }

    proptest! {
        /// The value parsers never panic, and what they accept is what the library's option
        /// checks are built for: finite, bounded values.
        #[test]
        fn value_parsers_never_panic(text in "\\PC{0,24}") {
            if let Ok(b) = attack::parse_budgets(&text) {
                prop_assert!(!b.0.is_empty() && b.0.len() <= attack::MAX_BUDGETS);
                prop_assert!(b.0.iter().all(|v| v.is_finite() && *v >= 0.0));
            }
            if let Ok(v) = train::parse_fraction(&text) {
                prop_assert!(v.is_finite() && v > 0.0);
            }
            let _ = positive_count(&text);
            prop_assert!(printable(&text).chars().all(|c| !c.is_control()));
        }

        #[test]
        fn budget_ranges_never_panic(start in any::<f32>(), stop in any::<f32>(), step in any::<f32>()) {
            let text = format!("{start}:{stop}:{step}");
            if let Ok(b) = attack::parse_budgets(&text) {
                prop_assert!(b.0.len() <= attack::MAX_BUDGETS);
            }
        }

        /// Whatever the numbers, building and checking a training configuration from the
        /// command line never panics.
        #[test]
        fn training_option_checks_never_panic(
            alpha in any::<f32>(), lr in any::<f64>(), s2 in any::<f64>(),
            shift in any::<f32>(), rotate in any::<f32>(), scale in any::<f32>(),
            confidence in any::<f64>(), epochs in any::<usize>(), shards in any::<usize>(),
            batch in any::<usize>(),
        ) {
            let mut config = gmvae_trainer::train::TrainConfig::default();
            config.options.alpha = alpha;
            config.options.lr = lr;
            config.options.s2 = s2;
            config.options.augment.shift = shift;
            config.options.augment.rotate = rotate;
            config.options.augment.scale = scale;
            config.options.epochs = epochs;
            config.options.shards = shards;
            config.options.batch_size = batch;
            config.calibration.confidence = confidence;
            if config.validate().is_ok() {
                prop_assert!(alpha.is_finite() && alpha > 0.0 && lr > 0.0 && lr <= 1.0);
                prop_assert!(shift.is_finite() && (0.0..=180.0).contains(&rotate));
                prop_assert!(confidence > 0.0 && confidence < 1.0 && epochs >= 1 && shards >= 1);
            }
        }
    }
}
