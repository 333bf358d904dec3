//! `gmvae reclassify`: latent-space reclassification (paper §3.5) of a test split — the
//! rejected clean samples recovered, or with `--fgsm` the paper's Table 2 — written as
//! `reclassify.md`/`.json` (`reclassify-fgsm.*`, with a chart `reclassify-fgsm.svg`) beside the
//! model.

use super::data::DatasetArgs;
use super::device::{dispatch, DeviceKind, OnDevice};
use super::eval::{dataset_for, parent_dir};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gmvae_trainer::atomic::write_atomically;
use gmvae_trainer::data::load;
use gmvae_trainer::reclassify::experiment::{clean_report, fgsm_table, Engine};
use gmvae_trainer::reclassify::ReclassifySettings;
use gmvae_trainer::train::fit::check_fits;
use gmvae_trainer::train::TrainDevice;
use gmvae_trainer::trained::TrainedModel;
use ndarray::s;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The search settings, as flags.
#[derive(Debug, Clone, Args)]
pub struct SettingsArgs {
    /// Adam steps per start (one start per class mean).
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.steps)]
    pub steps: u32,
    /// Adam step size, in latent units.
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.learning_rate)]
    pub lr: f32,
    /// Adam β1.
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.beta1)]
    pub beta1: f32,
    /// Adam β2.
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.beta2)]
    pub beta2: f32,
    /// Adam ε.
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.epsilon)]
    pub adam_eps: f32,
    /// Stop a start once its loss changes by at most this fraction in one step (0: never).
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.early_stop_tolerance)]
    pub early_stop: f32,
    /// Never reject a reclassified sample as fooling (decision always "accepted"; the
    /// reports show both variants anyway).
    #[arg(long)]
    pub no_fooling_rejection: bool,
    /// Keep every start inside its class's acceptance ellipsoid (d² ≤ τ_enc), projecting
    /// after each step: our extension of the paper's search.
    #[arg(long)]
    pub confine: bool,
    /// With --confine: the ellipsoid is d² ≤ F · τ_enc (F in (0, 1]; tune it with
    /// `--split train`).
    #[arg(long, value_name = "F", default_value_t = ReclassifySettings::DEFAULT.confine_fraction)]
    pub confine_fraction: f32,
}

impl SettingsArgs {
    /// The runtime settings these flags describe (validated).
    pub fn settings(&self) -> Result<ReclassifySettings> {
        let s = ReclassifySettings {
            steps: self.steps,
            learning_rate: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.adam_eps,
            early_stop_tolerance: self.early_stop,
            reject_fooling: !self.no_fooling_rejection,
            confine_to_class: self.confine,
            confine_fraction: self.confine_fraction,
        };
        s.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(s)
    }
}

/// Which implementation reclassifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// `gmvae-runtime` (hand-written backward pass), one sample per thread.
    Runtime,
    /// dfdx autograd, batched over samples × starts (on --device).
    Dfdx,
}

/// Engine choice and threads, as flags.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Which implementation reclassifies (they agree to a tolerance; the runtime is faster
    /// on CPUs).
    #[arg(long, value_enum, default_value_t = EngineKind::Runtime)]
    pub engine: EngineKind,
    /// Runtime engine threads [default: all logical CPUs].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl EngineArgs {
    /// The engine, reading the model file for the runtime.
    pub fn engine(&self, model: &Path) -> Result<Engine> {
        Ok(match self.engine {
            EngineKind::Dfdx => Engine::Dfdx,
            EngineKind::Runtime => Engine::Runtime {
                bytes: {
                    let bytes = super::model_bytes::read(model)?;
                    // The runtime's verdict on the file (and the workspace cap) first.
                    super::model_bytes::runtime_model(model, &bytes)?;
                    bytes
                },
                threads: self
                    .threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
            },
        })
    }
}

/// A dataset split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitKind {
    /// The test split.
    Test,
    /// The training split.
    Train,
}

/// Arguments of `gmvae reclassify`.
#[derive(Debug, Clone, Args)]
pub struct ReclassifyArgs {
    /// The model file (`model.gmvae`).
    pub model: PathBuf,
    /// The dataset whose test split to use [default: the model's].
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Which split to use (tune settings on `train`, report on `test`).
    #[arg(long, value_enum, default_value_t = SplitKind::Test)]
    pub split: SplitKind,
    /// Use only the first N samples of the split.
    #[arg(long, value_name = "N", value_parser = super::positive_count)]
    pub samples: Option<usize>,
    /// Reclassify only the samples the thresholds reject (else every sample, which also
    /// gives the accuracy of reclassification as a classifier of its own).
    #[arg(long)]
    pub only_rejected: bool,
    /// Table 2: attack with FGSM at these L∞ budgets (comma list) and reclassify the rejected
    /// adversarial samples (every one as well unless --only-rejected).
    #[arg(long, value_delimiter = ',', value_name = "EPS,...")]
    pub fgsm: Vec<f32>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine: EngineArgs,
    /// Where the dfdx model runs (classification, FGSM, the dfdx engine).
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
    /// Where to write the reports [default: the model's directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `gmvae reclassify`.
pub fn run(args: ReclassifyArgs) -> Result<()> {
    let device = args.device;
    print!("{}", dispatch(device, Job { args })?);
    Ok(())
}

struct Job {
    args: ReclassifyArgs,
}

impl OnDevice for Job {
    type Output = String;
    fn run<D: TrainDevice>(self, dev: D) -> Result<String> {
        let a = &self.args;
        let settings = a.settings.settings()?;
        let engine = a.engine.engine(&a.model)?;
        let model = TrainedModel::load(&a.model, &dev)?;
        let split = load(&dataset_for(&a.dataset, &model.dataset)?)?;
        let (data, split_name) = match a.split {
            SplitKind::Test => (&split.test, split.name.clone()),
            SplitKind::Train => (&split.train, format!("{} (train)", split.name)),
        };
        check_fits(model.network.config(), data, &split.name)?;
        let n = a.samples.unwrap_or(usize::MAX).min(data.len());
        let images = data.images.slice(s![..n, ..]);
        let labels: Vec<usize> = data
            .labels
            .iter()
            .take(n)
            .map(|&l| usize::from(l))
            .collect();
        let out = a.out.clone().unwrap_or_else(|| parent_dir(&a.model));
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let started = Instant::now();
        let header = format!(
            "engine {}, {} steps × {} starts, lr {}, β1 {}, β2 {}, early stop {}{}\n\n",
            engine.name(),
            settings.steps,
            model.network.config().classes,
            settings.learning_rate,
            settings.beta1,
            settings.beta2,
            settings.early_stop_tolerance,
            if settings.confine_to_class {
                format!(
                    ", starts confined to their class's acceptance ellipsoid (d² ≤ {} · τ_enc)",
                    settings.confine_fraction
                )
            } else {
                String::new()
            }
        );
        let (name, markdown, json, chart) = if a.fgsm.is_empty() {
            let (report, done) = clean_report(
                &model,
                &split_name,
                images,
                &labels,
                &engine,
                &settings,
                !a.only_rejected,
            )?;
            let mut md = report.markdown();
            if !a.only_rejected {
                let all =
                    gmvae_trainer::reclassify::report::Recovery::tally(&done.outcomes, &labels);
                md.push_str(&format!(
                    "\nReclassification alone (every sample, decoder only): {} correct ({}), {} with fooling rejection.\n",
                    all.correct,
                    gmvae_trainer::reclassify::report::pct(all.accuracy()),
                    gmvae_trainer::reclassify::report::pct(all.accuracy_with_rejection())
                ));
            }
            let json = serde_json::json!({ "settings": format!("{settings:?}"), "engine": engine.name(), "report": report, "reclassified": done });
            ("reclassify", md, json, None)
        } else {
            let table = fgsm_table(
                &model,
                &split_name,
                images,
                &labels,
                &a.fgsm,
                &engine,
                &settings,
                !a.only_rejected,
            )?;
            let json = serde_json::json!({ "settings": format!("{settings:?}"), "engine": engine.name(), "table": table });
            (
                "reclassify-fgsm",
                table.markdown(),
                json,
                Some(table.chart().to_svg()),
            )
        };
        let elapsed = started.elapsed().as_secs_f64();
        let markdown = format!("{header}{markdown}\n{elapsed:.1} s in all.\n");
        // The confined search writes beside the paper's, not over it.
        let name = if settings.confine_to_class {
            format!("{name}-confined")
        } else {
            name.to_owned()
        };
        let md_path = out.join(format!("{name}.md"));
        let json_path = out.join(format!("{name}.json"));
        write_atomically(&md_path, markdown.as_bytes())?;
        write_atomically(&json_path, serde_json::to_string_pretty(&json)?.as_bytes())?;
        let mut text = format!(
            "{markdown}wrote {}\nwrote {}\n",
            md_path.display(),
            json_path.display()
        );
        if let Some(svg) = chart {
            let svg_path = out.join(format!("{name}.svg"));
            write_atomically(&svg_path, svg.as_bytes())?;
            text.push_str(&format!("wrote {}\n", svg_path.display()));
        }
        Ok(text)
    }
}

/// `gmvae eval --reclassify`: reclassifies the rejected samples of `split.test` with the
/// default settings on the runtime engine, writes `reclassify.md`/`.json` into `out`, and
/// returns the summary text.
pub fn after_eval<D: ::dfdx::prelude::Device<f32>>(
    model: &TrainedModel<D>,
    split: &gmvae_trainer::data::Split,
    model_path: &Path,
    out: &Path,
) -> Result<String> {
    let settings = ReclassifySettings::DEFAULT;
    let engine = EngineArgs {
        engine: EngineKind::Runtime,
        threads: None,
    }
    .engine(model_path)?;
    let labels: Vec<usize> = split.test.labels.iter().map(|&l| usize::from(l)).collect();
    let started = Instant::now();
    let (report, done) = clean_report(
        model,
        &split.name,
        split.test.images.view(),
        &labels,
        &engine,
        &settings,
        false,
    )?;
    let markdown = format!(
        "Reclassification of the rejected test samples ({} engine, {} steps × {} starts, lr {}; {:.1} s):\n\n{}",
        engine.name(),
        settings.steps,
        model.network.config().classes,
        settings.learning_rate,
        started.elapsed().as_secs_f64(),
        report.markdown()
    );
    let json = serde_json::json!({ "settings": format!("{settings:?}"), "engine": engine.name(), "report": report, "reclassified": done });
    let (md_path, json_path) = (out.join("reclassify.md"), out.join("reclassify.json"));
    write_atomically(&md_path, markdown.as_bytes())?;
    write_atomically(&json_path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(format!(
        "\n{markdown}wrote {}\nwrote {}\n",
        md_path.display(),
        json_path.display()
    ))
}
