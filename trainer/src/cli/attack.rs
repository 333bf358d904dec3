//! `gmvae attack <kind>`: run one attack against a model on its test split and write JSON, a
//! Markdown table, Figure-3-style curves (SVG and PNG) and Figure-4-style example grids.

use super::attack_reclassify::ThroughReclassificationArgs;
use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use super::eval::{dataset_for, parent_dir};
use super::progress::Bars;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use dfdx::prelude::*;
use gmvae_trainer::attack::adaptive::{AdaptiveOptions, CodePool, StepSchedule};
use gmvae_trainer::attack::compare::{load_fgsm_sweep, side_by_side};
use gmvae_trainer::attack::mim::MimOptions;
use gmvae_trainer::attack::objective::EncoderLoss;
use gmvae_trainer::attack::pgd::PgdOptions;
use gmvae_trainer::attack::pool::seen_inputs;
use gmvae_trainer::attack::results::{write_chart, BoundedRun, TargetedRun};
use gmvae_trainer::attack::sampling::{check_seen, stratified_unseen, SampleSet};
use gmvae_trainer::attack::suite;
use gmvae_trainer::attack::whitebox::WhiteboxOptions;
use gmvae_trainer::attack::Norm;
use gmvae_trainer::choice::Choice;
use gmvae_trainer::data::{load, Split};
use gmvae_trainer::plot::grid::GridShape;
use gmvae_trainer::train::fit::check_fits;
use gmvae_trainer::train::TrainDevice;
use gmvae_trainer::trained::TrainedModel;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The attacks.
#[derive(Debug, Subcommand)]
pub enum AttackCommand {
    /// FGSM ε sweep against the encoder alone (the paper's Figure 3).
    Fgsm(FgsmArgs),
    /// PGD (L∞ or L2, random start) against the encoder alone; CleverHans defaults by default.
    Pgd(PgdArgs),
    /// Momentum Iterative Method against the encoder alone; CleverHans defaults by default.
    Mim(MimArgs),
    /// The paper's white-box targeted attack (Eq. 10), every input towards every other class.
    Whitebox(WhiteboxArgs),
    /// The paper's fooling attack (Eq. 11) from uniform noise towards every class.
    Fooling(FoolingArgs),
    /// Adaptive L∞ PGD on the full defended model (misclassify and pass both thresholds).
    Adaptive(AdaptiveArgs),
    /// The image and the code the reclassifier should find, descended together, judged by the
    /// decision with reclassification (paper §3.5).
    Reclassify(ThroughReclassificationArgs),
}

/// Options every attack takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The model file (`model.gmvae`).
    pub model: PathBuf,
    /// The dataset whose test split to attack [default: the model's own].
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Output directory [default: `security/` beside the model].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for the input sample, random starts and noise.
    #[arg(long, default_value_t = 2019)]
    pub seed: u64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
    /// Draw the attacked inputs only from test inputs that this earlier evaluation did not
    /// show: a `gmvae report` directory or `report.json`, or an attack's result file such as
    /// `adaptive.json` (repeatable). Fresh samples keep a rule chosen on one sample honest.
    #[arg(long, value_name = "REPORT_OR_ATTACK_JSON")]
    pub exclude_seen: Vec<PathBuf>,
}

/// The encoder-only class loss options.
#[derive(Debug, Clone, Args)]
pub struct LossArgs {
    /// Temperature T of the mixture posterior softmax(−||z−μ_k||²/(2T)); a number or `s2` (the
    /// model's variance, which saturates the softmax and masks gradients).
    #[arg(long, default_value = "1", value_name = "T")]
    pub temperature: String,
}

/// `gmvae attack fgsm`.
#[derive(Debug, Clone, Args)]
pub struct FgsmArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test inputs to attack (class-stratified; ≥ the split size = all).
    #[arg(long, default_value_t = 1000, value_parser = super::positive_count)]
    pub samples: usize,
    /// Budgets: a comma list or `start:stop:step`.
    #[arg(long, default_value = "0:0.5:0.025", value_parser = parse_budgets)]
    pub eps: Budgets,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loss: LossArgs,
    /// Another model's `fgsm.json` (from an earlier `gmvae attack fgsm`): also draw both
    /// models' error and rejection in one chart, `fgsm-versus.svg/.png`.
    #[arg(long, value_name = "FGSM_JSON")]
    pub versus: Option<PathBuf>,
    /// Legend label of this model in the `--versus` chart.
    #[arg(long, default_value = "this model", requires = "versus")]
    pub label: String,
    /// Legend label of the other model in the `--versus` chart.
    #[arg(long, default_value = "other model", requires = "versus")]
    pub versus_label: String,
}

impl FgsmArgs {
    /// The other model's sweep, read (and checked to be an FGSM sweep) before any work.
    pub fn versus_run(&self) -> Result<Option<BoundedRun>> {
        Ok(match &self.versus {
            Some(path) => Some(load_fgsm_sweep(path)?),
            None => None,
        })
    }
}

/// Named PGD settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PgdPreset {
    /// CleverHans 3 defaults: L∞ ε 0.3, step 0.05, 10 steps, random start.
    Cleverhans,
    /// CleverHans 2 `MadryEtAl` defaults: L∞ ε 0.3, step 0.01, 40 steps, random start.
    Madry,
    /// L2 ε 2, step 0.125, 40 steps, random start.
    L2,
}

/// `gmvae attack pgd`.
#[derive(Debug, Clone, Args)]
pub struct PgdArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test inputs to attack.
    #[arg(long, default_value_t = 1000, value_parser = super::positive_count)]
    pub samples: usize,
    /// Starting settings; the flags below override them.
    #[arg(long, value_enum, default_value_t = PgdPreset::Cleverhans)]
    pub preset: PgdPreset,
    /// Norm of the ball.
    #[arg(long, value_parser = super::choice::<gmvae_trainer::attack::project::Norm>())]
    pub norm: Option<Norm>,
    /// Budgets (comma list or `start:stop:step`) [default: the preset's].
    #[arg(long, value_parser = parse_budgets)]
    pub eps: Option<Budgets>,
    /// Step size (capped at ε).
    #[arg(long)]
    pub step: Option<f32>,
    /// Number of steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Start at the clean input instead of a random point of the ball.
    #[arg(long)]
    pub no_random_start: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loss: LossArgs,
}

/// `gmvae attack mim`.
#[derive(Debug, Clone, Args)]
pub struct MimArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test inputs to attack.
    #[arg(long, default_value_t = 1000, value_parser = super::positive_count)]
    pub samples: usize,
    /// Budgets.
    #[arg(long, default_value = "0.3", value_parser = parse_budgets)]
    pub eps: Budgets,
    /// Step size (capped at ε).
    #[arg(long, default_value_t = 0.06)]
    pub step: f32,
    /// Number of steps.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Momentum decay.
    #[arg(long, default_value_t = 1.0)]
    pub decay: f32,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loss: LossArgs,
}

/// Eq. 10 / Eq. 11 optimiser options.
#[derive(Debug, Clone, Args)]
pub struct OptimiserArgs {
    /// Exponent a (> 1) of the reconstruction term.
    #[arg(long, default_value_t = 2.0)]
    pub a: f32,
    /// Exponent b (> 1) of the Mahalanobis term.
    #[arg(long, default_value_t = 2.0)]
    pub b: f32,
    /// Adam steps.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f32,
}

impl OptimiserArgs {
    /// The optimiser settings.
    pub fn options(&self, eps: Option<f32>) -> Result<WhiteboxOptions> {
        if !(self.a > 1.0 && self.b > 1.0) {
            bail!(
                "the paper's exponents must satisfy a > 1 and b > 1 (got a = {}, b = {})",
                self.a,
                self.b
            );
        }
        Ok(WhiteboxOptions {
            a: self.a,
            b: self.b,
            steps: self.steps,
            lr: self.lr,
            eps,
        })
    }
}

/// `gmvae attack whitebox`.
#[derive(Debug, Clone, Args)]
pub struct WhiteboxArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test images (class-stratified); each is pushed towards every other class.
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub images: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub optimiser: OptimiserArgs,
    /// Also bound η in L∞ (the paper does not).
    #[arg(long)]
    pub eps: Option<f32>,
}

/// `gmvae attack fooling`.
#[derive(Debug, Clone, Args)]
pub struct FoolingArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Uniform-noise images; each is pushed towards every class.
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub images: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub optimiser: OptimiserArgs,
}

/// Adaptive attack options.
#[derive(Debug, Clone, Args)]
pub struct AdaptiveSettings {
    /// L∞ budgets.
    #[arg(long, default_value = "0.1,0.2,0.3", value_parser = parse_budgets)]
    pub eps: Budgets,
    /// PGD steps per start.
    #[arg(long, default_value_t = 40)]
    pub steps: usize,
    /// Starts per strategy and target (the first deterministic, the rest random).
    #[arg(long, default_value_t = 2)]
    pub restarts: usize,
    /// At most this many starts for the targeted strategies [default: all]; the untargeted
    /// one takes every start.
    #[arg(long, value_name = "N")]
    pub target_restarts: Option<usize>,
    /// Target classes per strategy.
    #[arg(long, default_value_t = 3)]
    pub targets: usize,
    /// Skip the latent-code strategy.
    #[arg(long)]
    pub no_codes: bool,
    /// Also run the untargeted strategy: the best wrong class, re-chosen every step.
    #[arg(long)]
    pub untargeted: bool,
    /// Step size = this · ε / steps (PGD).
    #[arg(long, default_value_t = 2.5)]
    pub step_scale: f32,
    /// Step-length rule: pgd (constant) or apgd (halved at checkpoints, momentum).
    #[arg(long, value_parser = super::choice::<StepSchedule>(), default_value_t = StepSchedule::Constant)]
    pub schedule: StepSchedule,
    /// Training images searched for the code strategy's targets (the first N; default all).
    #[arg(long, value_name = "N")]
    pub pool: Option<usize>,
}

impl AdaptiveSettings {
    /// The attack options.
    pub fn options(&self, seed: u64) -> AdaptiveOptions {
        AdaptiveOptions {
            eps: self.eps.0.clone(),
            steps: self.steps,
            restarts: self.restarts,
            targeted_restarts: self.target_restarts,
            targets: self.targets,
            codes: !self.no_codes,
            untargeted: self.untargeted,
            step_scale: self.step_scale,
            seed,
            schedule: self.schedule,
            ..AdaptiveOptions::default()
        }
    }
}

/// `gmvae attack adaptive`.
#[derive(Debug, Clone, Args)]
pub struct AdaptiveArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test inputs to attack.
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub samples: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub settings: AdaptiveSettings,
}

/// A list of budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct Budgets(pub Vec<f32>);

/// Most budgets one option may list (a range is counted before it is expanded).
pub const MAX_BUDGETS: usize = 1000;

/// Parses `0.1,0.2` or `start:stop:step` (inclusive of stop): at most [`MAX_BUDGETS`] finite,
/// non-negative values.
pub fn parse_budgets(s: &str) -> Result<Budgets, String> {
    let num = |t: &str| t.trim().parse::<f32>().map_err(|e| format!("{t:?}: {e}"));
    let values = if let [a, b, c] = s.split(':').collect::<Vec<_>>()[..] {
        let (start, stop, step) = (num(a)?, num(b)?, num(c)?);
        if !(start.is_finite() && stop.is_finite() && step.is_finite()) {
            return Err(format!("{s}: start, stop and step must be finite numbers"));
        }
        if step <= 0.0 || stop < start {
            return Err(format!("{s}: need start ≤ stop and a positive step"));
        }
        let count = f64::from(stop - start) / f64::from(step) + 1e-4;
        if count >= MAX_BUDGETS as f64 {
            return Err(format!(
                "{s}: that is more than {MAX_BUDGETS} budgets; use a larger step"
            ));
        }
        let n = count.floor() as usize;
        (0..=n)
            .map(|k| ((start + k as f32 * step) * 1e4).round() / 1e4)
            .collect()
    } else {
        let parts: Vec<&str> = s.split(',').collect();
        if parts.len() > MAX_BUDGETS {
            return Err(format!("{} budgets: at most {MAX_BUDGETS}", parts.len()));
        }
        parts.into_iter().map(num).collect::<Result<Vec<_>, _>>()?
    };
    if values.is_empty() || values.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(format!("{s}: budgets must be non-negative numbers"));
    }
    Ok(Budgets(values))
}

impl LossArgs {
    /// The loss for `model` (resolving `s2`).
    pub fn loss(&self, s2: f64) -> Result<EncoderLoss> {
        let t = if self.temperature.trim() == "s2" {
            s2 as f32
        } else {
            super::train::parse_fraction(&self.temperature).map_err(|e| {
                anyhow::anyhow!(
                    "--temperature {}: {e} (give a number, a fraction like 1/3000, or `s2`)",
                    self.temperature
                )
            })? as f32
        };
        if !(t.is_finite() && t > 0.0) {
            bail!("--temperature must be positive");
        }
        Ok(EncoderLoss { temperature: t })
    }
}

impl PgdArgs {
    /// The PGD settings: the preset, overridden by the flags.
    pub fn options(&self, loss: EncoderLoss) -> (Vec<f32>, PgdOptions) {
        let mut o = match self.preset {
            PgdPreset::Cleverhans => PgdOptions::cleverhans(),
            PgdPreset::Madry => PgdOptions::madry(),
            PgdPreset::L2 => PgdOptions::l2(),
        };
        o.norm = self.norm.unwrap_or(o.norm);
        o.step = self.step.unwrap_or(o.step);
        o.steps = self.steps.unwrap_or(o.steps);
        o.random_start &= !self.no_random_start;
        o.seed = self.common.seed;
        o.loss = loss;
        let eps = self
            .eps
            .as_ref()
            .map_or_else(|| vec![o.eps], |b| b.0.clone());
        (eps, o)
    }
}

/// Runs `gmvae attack`.
pub fn run(mut command: AttackCommand) -> Result<()> {
    // Check the cheap things before loading anything.
    match &mut command {
        AttackCommand::Whitebox(a) => drop(a.optimiser.options(a.eps)?),
        AttackCommand::Fooling(a) => drop(a.optimiser.options(None)?),
        AttackCommand::Fgsm(a) => drop(a.versus_run()?),
        AttackCommand::Reclassify(a) => a.prepare()?,
        _ => {}
    }
    let device = common(&command).device;
    let summary = dispatch(device, AttackJob { command })?;
    print!("{summary}");
    Ok(())
}

fn common(command: &AttackCommand) -> &CommonArgs {
    match command {
        AttackCommand::Fgsm(a) => &a.common,
        AttackCommand::Pgd(a) => &a.common,
        AttackCommand::Mim(a) => &a.common,
        AttackCommand::Whitebox(a) => &a.common,
        AttackCommand::Fooling(a) => &a.common,
        AttackCommand::Adaptive(a) => &a.common,
        AttackCommand::Reclassify(a) => &a.common,
    }
}

struct AttackJob {
    command: AttackCommand,
}

/// What an attack command loaded: the model, its dataset and the output directory.
pub struct Loaded<D: Device<f32>> {
    /// The model.
    pub model: TrainedModel<D>,
    /// The dataset.
    pub split: Split,
    /// Where to write.
    pub out: PathBuf,
    /// Test inputs of the `--exclude-seen` evaluations, which no sample is drawn from.
    pub seen: BTreeSet<usize>,
}

impl<D: Device<f32>> Loaded<D> {
    /// Up to `n` class-stratified test inputs drawn with `seed`, none of them seen.
    pub fn sample(&self, n: usize, seed: u64) -> Result<SampleSet> {
        Ok(stratified_unseen(&self.split.test, n, seed, &self.seen)?)
    }
}

/// Loads the model and dataset of `common`, checking that they fit each other (and, first,
/// the `--exclude-seen` files).
pub fn load_model<D: Device<f32>>(common: &CommonArgs, dev: &D) -> Result<Loaded<D>> {
    let mut seen = BTreeSet::new();
    for path in &common.exclude_seen {
        seen.extend(seen_inputs(path)?);
    }
    let model = TrainedModel::load(&common.model, dev)
        .with_context(|| format!("cannot load the model {}", common.model.display()))?;
    let split = load(&dataset_for(&common.dataset, &model.dataset)?)?;
    check_fits(model.network.config(), &split.test, &split.name)?;
    if split.test.is_empty() {
        bail!("{} has an empty test split", split.name);
    }
    let out = common
        .out
        .clone()
        .unwrap_or_else(|| parent_dir(&common.model).join("security"));
    // Out-of-split indices and an exhausted split are refused before any attack runs.
    check_seen(&split.test, &seen)?;
    Ok(Loaded {
        model,
        split,
        out,
        seen,
    })
}

/// The grid layout of `model`'s images.
pub fn grid_shape<D: Device<f32>>(model: &TrainedModel<D>) -> GridShape {
    let c = model.network.config();
    GridShape {
        channels: c.in_channels,
        height: c.height,
        width: c.width,
        columns: 10,
        scale: 2,
    }
}

impl OnDevice for AttackJob {
    type Output = String;
    fn run<D: TrainDevice>(self, dev: D) -> Result<String> {
        let loaded = load_model(common(&self.command), &dev)?;
        let model = &loaded.model;
        let s2 = model.calibration.s2;
        let shape = grid_shape(model);
        let bars = Bars::default();
        let (markdown, written) = match &self.command {
            AttackCommand::Fgsm(a) => {
                let run = suite::run_fgsm(
                    model,
                    &loaded.sample(a.samples, a.common.seed)?,
                    &a.eps.0,
                    a.loss.loss(s2)?,
                )?;
                let (markdown, mut written) = bounded_files(&run, &loaded.out, shape)?;
                if let Some(other) = a.versus_run()? {
                    let chart = side_by_side(&[(&a.label, &run), (&a.versus_label, &other)]);
                    written.extend(write_chart(&loaded.out, "fgsm-versus", &chart)?);
                }
                (markdown, written)
            }
            AttackCommand::Pgd(a) => {
                let (eps, options) = a.options(a.loss.loss(s2)?);
                let kind = format!("pgd-{}", options.norm.name());
                let run = suite::run_pgd(
                    model,
                    &loaded.sample(a.samples, a.common.seed)?,
                    &kind,
                    &eps,
                    &options,
                    &bars,
                )?;
                bounded_files(&run, &loaded.out, shape)?
            }
            AttackCommand::Mim(a) => {
                let options = MimOptions {
                    step: a.step,
                    steps: a.steps,
                    decay: a.decay,
                    loss: a.loss.loss(s2)?,
                    ..MimOptions::cleverhans()
                };
                let run = suite::run_mim(
                    model,
                    &loaded.sample(a.samples, a.common.seed)?,
                    &a.eps.0,
                    &options,
                    &bars,
                )?;
                bounded_files(&run, &loaded.out, shape)?
            }
            AttackCommand::Whitebox(a) => {
                let run = suite::run_whitebox(
                    model,
                    &loaded.sample(a.images, a.common.seed)?,
                    &a.optimiser.options(a.eps)?,
                    &bars,
                )?;
                targeted_files(&run, &loaded.out, shape)?
            }
            AttackCommand::Fooling(a) => {
                let run = suite::run_fooling(
                    model,
                    a.images,
                    a.common.seed,
                    &a.optimiser.options(None)?,
                    &bars,
                )?;
                targeted_files(&run, &loaded.out, shape)?
            }
            AttackCommand::Adaptive(a) => {
                let (images, labels) = code_pool(&loaded.split, a.settings.pool);
                let pool = CodePool {
                    images: images.view(),
                    labels: &labels,
                };
                let run = suite::run_adaptive(
                    model,
                    &loaded.sample(a.samples, a.common.seed)?,
                    &pool,
                    &a.settings.options(a.common.seed),
                    &bars,
                )?;
                bounded_files(&run, &loaded.out, shape)?
            }
            AttackCommand::Reclassify(a) => a.run(&loaded, shape, &bars)?,
        };
        Ok(summary(&markdown, &written))
    }
}

/// The first `limit` (default all) training images and labels, for the code strategy.
pub fn code_pool(split: &Split, limit: Option<usize>) -> (ndarray::Array2<f32>, Vec<usize>) {
    let n = limit.unwrap_or(usize::MAX).min(split.train.len());
    let images = split.train.images.slice(ndarray::s![..n, ..]).to_owned();
    let labels = split
        .train
        .labels
        .iter()
        .take(n)
        .map(|&l| usize::from(l))
        .collect();
    (images, labels)
}

/// Writes a bounded run; returns its Markdown and the files.
pub fn bounded_files(
    run: &BoundedRun,
    out: &Path,
    shape: GridShape,
) -> Result<(String, Vec<PathBuf>)> {
    let written = run
        .write(out, shape)
        .with_context(|| format!("cannot write into {}", out.display()))?;
    Ok((run.markdown(), written))
}

/// Writes a targeted run; returns its Markdown and the files.
pub fn targeted_files(
    run: &TargetedRun,
    out: &Path,
    shape: GridShape,
) -> Result<(String, Vec<PathBuf>)> {
    let written = run
        .write(out, shape)
        .with_context(|| format!("cannot write into {}", out.display()))?;
    Ok((run.markdown(), written))
}

fn summary(markdown: &str, written: &[PathBuf]) -> String {
    let mut s = format!("{markdown}\n");
    for path in written {
        s.push_str(&format!("wrote {}\n", path.display()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_lists_and_ranges() {
        assert_eq!(parse_budgets("0.1, 0.3").unwrap().0, vec![0.1, 0.3]);
        assert_eq!(
            parse_budgets("0:0.1:0.025").unwrap().0,
            vec![0.0, 0.025, 0.05, 0.075, 0.1]
        );
        assert!(parse_budgets("0.1,-1").is_err());
        assert!(parse_budgets("0:1:0").is_err());
        assert!(parse_budgets("a").is_err());
    }
}
