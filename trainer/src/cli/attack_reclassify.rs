//! `gmvae attack reclassify`: the attack through reclassification (the image and the code the
//! reclassifier should find, descended together), judged by the decision with
//! reclassification; with `--report`, the worst case per input of that decision over the
//! report's attacks and this one.

use super::attack::{bounded_files, parse_budgets, Budgets, CommonArgs, Loaded};
use super::progress::Bars;
use anyhow::{Context, Result};
use clap::Args;
use gmvae_trainer::attack::compare::load_report;
use gmvae_trainer::attack::report::SecurityReport;
use gmvae_trainer::plot::grid::GridShape;
use gmvae_trainer::reclassify::attack::{run_through_reclassification, ThroughReclassification};
use gmvae_trainer::reclassify::deployed::DeployedWorstCase;
use gmvae_trainer::reclassify::ReclassifySettings;
use gmvae_trainer::train::TrainDevice;
use std::path::PathBuf;

/// `gmvae attack reclassify`.
#[derive(Debug, Clone, Args)]
pub struct ThroughReclassificationArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test inputs to attack (class-stratified; the same seed and count as the report's
    /// adaptive samples attack the same inputs).
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub samples: usize,
    /// L∞ budgets.
    #[arg(long, default_value = "0.1,0.2,0.3", value_parser = parse_budgets)]
    pub eps: Budgets,
    /// Joint steps per start.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Starts per target (the first from the clean input, the rest random).
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// Wrong classes attacked per input (the most likely ones).
    #[arg(long, default_value_t = 3)]
    pub targets: usize,
    /// Adam learning rate of the attacker's code.
    #[arg(long, default_value_t = 0.01)]
    pub latent_lr: f32,
    /// Adam steps of the deployed reclassification from each class mean.
    #[arg(long, default_value_t = ReclassifySettings::DEFAULT.steps)]
    pub reclassify_steps: u32,
    /// Confine the deployed reclassification to each class's acceptance ellipsoid, scaled by
    /// this fraction of τ_enc (off: the paper's unconfined search).
    #[arg(long, value_name = "F")]
    pub confine_fraction: Option<f32>,
    /// A `report.json` of `gmvae report` on the same model: also the worst case per input of
    /// the decision with reclassification over its attacks and this one (its `--seed` must be
    /// this attack's, so that both attack the same inputs).
    #[arg(long, value_name = "REPORT_JSON")]
    pub report: Option<PathBuf>,
    /// The `--report` file, read once by [`Self::prepare`] before the model is loaded.
    #[arg(skip)]
    pub loaded_report: Option<Box<SecurityReport>>,
}

impl ThroughReclassificationArgs {
    /// The attack's settings, checked.
    pub fn options(&self) -> Result<ThroughReclassification> {
        let options = ThroughReclassification {
            eps: self.eps.0.clone(),
            steps: self.steps,
            restarts: self.restarts,
            targets: self.targets,
            latent_lr: self.latent_lr,
            reclassify: ReclassifySettings {
                steps: self.reclassify_steps,
                confine_to_class: self.confine_fraction.is_some(),
                confine_fraction: self.confine_fraction.unwrap_or(1.0),
                ..ReclassifySettings::DEFAULT
            },
            seed: self.common.seed,
            ..ThroughReclassification::default()
        };
        options.validate()?;
        Ok(options)
    }

    /// Checks the settings and reads the report to combine with, before any work.
    pub fn prepare(&mut self) -> Result<()> {
        let options = self.options()?;
        if let Some(path) = &self.report {
            let combinable = || -> Result<SecurityReport> {
                let report = load_report(path)?;
                options.check_report(&report)?;
                Ok(report)
            };
            let report =
                combinable().with_context(|| format!("cannot combine with {}", path.display()))?;
            self.loaded_report = Some(Box::new(report));
        }
        Ok(())
    }

    /// Runs the attack and writes its files (and, after [`Self::prepare`], the combined worst
    /// case); returns the Markdown and the files written.
    pub fn run<D: TrainDevice>(
        &self,
        loaded: &Loaded<D>,
        shape: GridShape,
        bars: &Bars,
    ) -> Result<(String, Vec<PathBuf>)> {
        let options = self.options()?;
        let (model, split) = (&loaded.model, &loaded.split);
        let set = loaded.sample(self.samples, self.common.seed)?;
        let run = run_through_reclassification(model, &set, &options, bars)?;
        let (mut markdown, mut written) = bounded_files(&run, &loaded.out, shape)?;
        if let (Some(report), Some(path)) = (&self.loaded_report, &self.report) {
            let labels: Vec<usize> = split.test.labels.iter().map(|&l| usize::from(l)).collect();
            let combined = DeployedWorstCase::measure(
                model,
                &self.common.model.display().to_string(),
                (&path.display().to_string(), report),
                &run,
                (split.test.images.view(), &labels),
                &options.reclassify,
            )?;
            let json = loaded.out.join("worst-case-with-reclassification.json");
            let md = loaded.out.join("WORST-CASE-WITH-RECLASSIFICATION.md");
            let text = combined.markdown();
            gmvae_trainer::atomic::write(
                &json,
                serde_json::to_string_pretty(&combined)?.as_bytes(),
            )
            .with_context(|| format!("cannot write {}", json.display()))?;
            gmvae_trainer::atomic::write(&md, text.as_bytes())
                .with_context(|| format!("cannot write {}", md.display()))?;
            markdown.push('\n');
            markdown.push_str(&text);
            written.extend([json, md]);
        }
        Ok((markdown, written))
    }
}
