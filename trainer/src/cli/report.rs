//! `gmvae report MODEL`: the whole security evaluation of a model in one run — FGSM sweep,
//! PGD (CleverHans and Madry defaults, L∞; and L2), MIM, the paper's Eq. 10 and Eq. 11 attacks,
//! the adaptive attack, the Square attack, optionally a transfer attack from another model, and
//! the worst case per input — written beside the model.

use super::attack::{
    bounded_files, code_pool, grid_shape, load_model, parse_budgets, targeted_files, Budgets,
    CommonArgs, LossArgs,
};
use super::device::{dispatch, OnDevice};
use super::progress::Bars;
use anyhow::{Context, Result};
use clap::Args;
use gmvae_trainer::attack::adaptive::{AdaptiveOptions, CodePool, StepSchedule};
use gmvae_trainer::attack::compare::{load_worst_cases, worst_case_chart};
use gmvae_trainer::attack::metrics::{clean_metrics, correctly_classified, verdicts};
use gmvae_trainer::attack::mim::MimOptions;
use gmvae_trainer::attack::pgd::PgdOptions;
use gmvae_trainer::attack::report::{linf_worst_cases, SanityChecks, SecurityReport, SetAside};
use gmvae_trainer::attack::results::write_chart;
use gmvae_trainer::attack::square::SquareOptions;
use gmvae_trainer::attack::suite;
use gmvae_trainer::attack::whitebox::WhiteboxOptions;
use gmvae_trainer::train::TrainDevice;
use gmvae_trainer::trained::TrainedModel;
use std::time::Instant;

/// Arguments of `gmvae report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
    /// Test inputs for FGSM, PGD and MIM (class-stratified; ≥ the split size = all).
    #[arg(long, default_value_t = 1000, value_parser = super::positive_count)]
    pub samples: usize,
    /// FGSM budgets (comma list or `start:stop:step`).
    #[arg(long, default_value = "0:0.5:0.025", value_parser = parse_budgets)]
    pub fgsm_eps: Budgets,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub loss: LossArgs,
    /// Test images for Eq. 10 (each towards every other class).
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub whitebox_images: usize,
    /// Noise images for Eq. 11 (each towards every class).
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub fooling_images: usize,
    /// Adam steps of Eq. 10 and Eq. 11.
    #[arg(long, default_value_t = 100)]
    pub whitebox_steps: usize,
    /// Adam learning rate of Eq. 10 and Eq. 11.
    #[arg(long, default_value_t = 0.01)]
    pub whitebox_lr: f32,
    /// Exponent a of Eq. 10 and Eq. 11.
    #[arg(long, default_value_t = 2.0)]
    pub a: f32,
    /// Exponent b of Eq. 10 and Eq. 11.
    #[arg(long, default_value_t = 2.0)]
    pub b: f32,
    /// Test inputs for the adaptive attack.
    #[arg(long, default_value_t = 100, value_parser = super::positive_count)]
    pub adaptive_samples: usize,
    /// Adaptive L∞ budgets (also the budgets of the worst-case table).
    #[arg(long, default_value = "0.1,0.2,0.3", value_parser = parse_budgets)]
    pub adaptive_eps: Budgets,
    /// Adaptive PGD steps per start.
    #[arg(long, default_value_t = 40)]
    pub adaptive_steps: usize,
    /// Adaptive starts per strategy and target.
    #[arg(long, default_value_t = 2)]
    pub adaptive_restarts: usize,
    /// Adaptive target classes per strategy.
    #[arg(long, default_value_t = 3)]
    pub adaptive_targets: usize,
    /// At most this many adaptive starts for the targeted strategies [default: all]; the
    /// untargeted one takes every start.
    #[arg(long, value_name = "N")]
    pub adaptive_target_restarts: Option<usize>,
    /// Inputs of the sanity checks (the first adaptive samples): the adaptive attack at ε = 1,
    /// and again with twice the steps and restarts (0 skips them).
    #[arg(long, default_value_t = 50)]
    pub sanity_samples: usize,
    /// Square attack queries per input on the adaptive samples (gradient-free; 0 skips it).
    #[arg(long, default_value_t = 1000)]
    pub square_queries: usize,
    /// Adaptive step-length rule: pgd (constant) or apgd (halved at checkpoints, momentum).
    #[arg(long, value_parser = super::choice::<StepSchedule>(), default_value_t = StepSchedule::Constant)]
    pub adaptive_schedule: StepSchedule,
    /// Training images searched for the adaptive code targets (the first N; default all).
    #[arg(long, value_name = "N")]
    pub adaptive_pool: Option<usize>,
    /// Also run the untargeted adaptive strategy: the best wrong class, re-chosen every step
    /// (one run per start instead of one per target).
    #[arg(long)]
    pub adaptive_untargeted: bool,
    /// A transfer attack: the adaptive attack's untargeted strategy (its steps and schedule,
    /// one start, run to the last step) on this independently trained model of the same
    /// dataset, its images scored on the evaluated model and counted in the worst case.
    #[arg(long, value_name = "MODEL")]
    pub transfer_from: Option<std::path::PathBuf>,
    /// The `report.json` of another model (e.g. the standard one beside an adversarially
    /// trained one): both worst cases in one chart, `worst-case-versus.svg/.png`.
    #[arg(long, value_name = "REPORT_JSON")]
    pub versus: Option<std::path::PathBuf>,
    /// Legend label of this model in the `--versus` chart.
    #[arg(long, default_value = "this model", requires = "versus")]
    pub label: String,
    /// Legend label of the other model in the `--versus` chart.
    #[arg(long, default_value = "other model", requires = "versus")]
    pub versus_label: String,
}

/// Runs `gmvae report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let device = args.common.device;
    let summary = dispatch(device, ReportJob { args })?;
    print!("{summary}");
    Ok(())
}

struct ReportJob {
    args: ReportArgs,
}

impl OnDevice for ReportJob {
    type Output = String;
    fn run<D: TrainDevice>(self, dev: D) -> Result<String> {
        let started = Instant::now();
        let a = &self.args;
        let seed = a.common.seed;
        // Every attack's settings are checked before the first one runs.
        let optimiser = WhiteboxOptions {
            a: a.a,
            b: a.b,
            steps: a.whitebox_steps,
            lr: a.whitebox_lr,
            eps: None,
        };
        let adaptive = AdaptiveOptions {
            eps: a.adaptive_eps.0.clone(),
            steps: a.adaptive_steps,
            restarts: a.adaptive_restarts,
            targets: a.adaptive_targets,
            targeted_restarts: a.adaptive_target_restarts,
            untargeted: a.adaptive_untargeted,
            seed,
            schedule: a.adaptive_schedule,
            ..AdaptiveOptions::default()
        };
        let square = SquareOptions {
            eps: a.adaptive_eps.0.clone(),
            queries: a.square_queries,
            seed,
            ..SquareOptions::default()
        };
        optimiser.validate()?;
        adaptive.validate()?;
        if a.square_queries > 0 {
            square.validate()?;
        }
        let versus = a.versus.as_deref().map(load_worst_cases).transpose()?;
        let loaded = load_model(&a.common, &dev)?;
        let (model, split, out) = (&loaded.model, &loaded.split, &loaded.out);
        let source = a
            .transfer_from
            .as_deref()
            .map(|path| transfer_source(path, model, &dev))
            .transpose()?;
        let shape = grid_shape(model);
        let loss = a.loss.loss(model.calibration.s2)?;
        let set = loaded.sample(a.samples, seed)?;
        let mut written = Vec::new();
        let mut bounded = Vec::new();
        let mut targeted = Vec::new();
        let bars = Bars::default();
        let step = |name: &str| eprintln!("[{:>6.0} s] {name}", started.elapsed().as_secs_f64());

        step("FGSM sweep");
        bounded.push(suite::run_fgsm(model, &set, &a.fgsm_eps.0, loss)?);
        for (kind, options) in [
            ("pgd-linf", PgdOptions::cleverhans()),
            ("pgd-linf-madry", PgdOptions::madry()),
            ("pgd-l2", PgdOptions::l2()),
        ] {
            step(kind);
            let o = PgdOptions {
                seed,
                loss,
                ..options
            };
            bounded.push(suite::run_pgd(model, &set, kind, &[o.eps], &o, &bars)?);
        }
        step("MIM");
        let mim = MimOptions {
            loss,
            ..MimOptions::cleverhans()
        };
        bounded.push(suite::run_mim(model, &set, &[mim.eps], &mim, &bars)?);

        step("Eq. 10 white-box");
        targeted.push(suite::run_whitebox(
            model,
            &loaded.sample(a.whitebox_images, seed)?,
            &optimiser,
            &bars,
        )?);
        step("Eq. 11 fooling");
        targeted.push(suite::run_fooling(
            model,
            a.fooling_images,
            seed,
            &optimiser,
            &bars,
        )?);

        step("adaptive");
        let (pool_images, labels) = code_pool(split, a.adaptive_pool);
        let pool = CodePool {
            images: pool_images.view(),
            labels: &labels,
        };
        let adaptive_set = loaded.sample(a.adaptive_samples, seed)?;
        bounded.push(suite::run_adaptive(
            model,
            &adaptive_set,
            &pool,
            &adaptive,
            &bars,
        )?);
        if a.square_queries > 0 {
            step("square (gradient-free)");
            bounded.push(suite::run_square(model, &adaptive_set, &square, &bars)?);
        }
        if let Some(source) = &source {
            step("transfer");
            let one_start = AdaptiveOptions {
                restarts: 1,
                targets: 0,
                untargeted: true,
                ..adaptive.clone()
            };
            bounded.push(suite::run_transfer(
                model,
                source,
                &adaptive_set,
                &pool,
                &one_start,
                &bars,
            )?);
        }
        let sanity_runs = if a.sanity_samples > 0 {
            step("sanity checks: unbounded, and twice the effort");
            let n = a.sanity_samples.min(adaptive_set.len());
            let subset = adaptive_set.first(n);
            let unbounded = AdaptiveOptions {
                eps: vec![1.0],
                ..adaptive.clone()
            };
            let harder = AdaptiveOptions {
                steps: 2 * adaptive.steps,
                restarts: 2 * adaptive.restarts,
                targeted_restarts: adaptive.targeted_restarts.map(|r| 2 * r),
                ..adaptive.clone()
            };
            Some((
                subset.indices.clone(),
                suite::run_adaptive(model, &subset, &pool, &unbounded, &bars)?,
                suite::run_adaptive(model, &subset, &pool, &harder, &bars)?,
            ))
        } else {
            None
        };
        step("writing");

        for run in &bounded {
            written.extend(bounded_files(run, out, shape)?.1);
        }
        for run in &targeted {
            written.extend(targeted_files(run, out, shape)?.1);
        }
        let test_labels: Vec<usize> = split.test.labels.iter().map(|&l| usize::from(l)).collect();
        let clean_verdicts = verdicts(model, split.test.images.view());
        let clean_correct = correctly_classified(&clean_verdicts, &test_labels);
        let clean_test = clean_metrics(&clean_verdicts, &test_labels, &model.calibration);
        let budgets: Vec<f64> = a.adaptive_eps.0.iter().map(|&e| suite::widen(e)).collect();
        let worst = linf_worst_cases(&bounded, &budgets, &clean_correct);
        let sanity = sanity_runs.map(|(indices, unbounded, harder)| {
            let main = bounded.iter().find(|r| r.kind == "adaptive");
            SanityChecks::measure(&worst, &indices, main, &unbounded, &harder)
        });
        let report = SecurityReport {
            model: a.common.model.display().to_string(),
            dataset: split.name.clone(),
            tau_enc: model.calibration.tau_enc,
            tau_dec: model.calibration.tau_dec,
            clean_test,
            worst_case: worst,
            sanity,
            bounded,
            targeted,
            seed: Some(seed),
            set_aside: (!loaded.seen.is_empty()).then(|| SetAside {
                sources: a
                    .common
                    .exclude_seen
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                inputs: loaded.seen.len(),
            }),
            command: command_line(),
            seconds: started.elapsed().as_secs_f64(),
        };
        written.extend(report.write(out)?);
        if let Some(other) = &versus {
            let chart = worst_case_chart(&[
                (&a.label, &report.worst_case),
                (&a.versus_label, &other.worst_case),
            ]);
            written.extend(write_chart(out, "worst-case-versus", &chart)?);
        }
        let mut summary = report.markdown();
        summary.push('\n');
        for path in written {
            summary.push_str(&format!("wrote {}\n", path.display()));
        }
        Ok(summary)
    }
}

/// The command line as typed (program name shortened to `gmvae`).
pub fn command_line() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "gmvae".into();
    }
    args.join(" ")
}

/// The source model of the transfer attack (`suite::run_transfer` refuses one of another
/// dataset or shape; it is checked here too so that the refusal comes before any attack).
fn transfer_source<D: TrainDevice>(
    path: &std::path::Path,
    model: &TrainedModel<D>,
    dev: &D,
) -> Result<TrainedModel<D>> {
    let source = TrainedModel::load(path, dev)
        .with_context(|| format!("cannot load the transfer source {}", path.display()))?;
    suite::check_transfer_source(model, &source)
        .with_context(|| format!("cannot attack with {}", path.display()))?;
    Ok(source)
}
