//! `gmvae train`: fit the model on a dataset, checkpoint every epoch, calibrate the rejection
//! thresholds and export the model file.

use super::data::DatasetArgs;
use super::device::{describe, dispatch, DeviceKind, OnDevice};
use super::progress::Bars;
use anyhow::Result;
use clap::Args;
use gmvae_trainer::calibrate::{
    CalibrationSettings, CovarianceKind, TauDecStatistic, TauEncStatistic,
};
use gmvae_trainer::data::{load, Split};
use gmvae_trainer::model::Preset;
use gmvae_trainer::train::adversarial::{
    AdversarialTarget, AdversarialTraining, InnerLoss, DEFAULT_ADVERSARIAL,
};
use gmvae_trainer::train::batch::Augment;
use gmvae_trainer::train::semi::{
    CalibrationImages, SemiSupervised, DEFAULT_CALIBRATE_ON, DEFAULT_LABELED_PER_BATCH,
    DEFAULT_PRIOR_WEIGHT,
};
use gmvae_trainer::train::{
    default_s2, train_and_calibrate, EncoderVariance, Fitted, LrSchedule, TrainConfig, TrainDevice,
    TrainOptions, DEFAULT_OPTIONS,
};
use gmvae_trainer::Error;
use std::path::PathBuf;

/// Arguments of `gmvae train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The dataset.
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Model sizes.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimisation settings.
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Threshold settings.
    #[command(flatten)]
    pub calibration: CalibrationArgs,
    /// Semi-supervised training.
    #[command(flatten)]
    pub semi: SemiArgs,
    /// Adversarial training.
    #[command(flatten)]
    pub adversarial: AdversarialArgs,
    /// Run directory for the checkpoint, the model file and logs [default: runs/train, or
    /// runs/demo for `gmvae demo`].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue from the run directory's checkpoint (its sizes and hyper-parameters win;
    /// --epochs may extend the run).
    #[arg(long)]
    pub resume: bool,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceKind::Auto)]
    pub device: DeviceKind,
    /// Train on only the first N training images (quick experiments and tests).
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// Hold out N training images (stratified by class, chosen with --seed) and calibrate the
    /// thresholds on them instead of on the images trained on; their indices go to the run
    /// directory [default: none, as in the paper; when resuming, the checkpoint's].
    #[arg(long, value_name = "N")]
    pub calibration_holdout: Option<usize>,
}

/// Model size options.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Size preset [default: paper; when resuming, the checkpoint's (another is refused)].
    #[arg(long, value_parser = super::choice::<Preset>())]
    pub preset: Option<Preset>,
    /// Latent dimension [default: the number of classes; when resuming, the checkpoint's];
    /// class means are zero-padded one-hots.
    #[arg(long)]
    pub latent: Option<usize>,
}

/// Optimisation options.
#[derive(Debug, Clone, Args)]
pub struct HyperArgs {
    /// Passes over the training split [default: 25; when resuming, the checkpoint's].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per step.
    #[arg(long, default_value_t = DEFAULT_OPTIONS.batch_size)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = DEFAULT_OPTIONS.lr)]
    pub lr: f64,
    /// Weight α of the latent term ||f(x) − μ_y||² (chosen by the sweep in BENCHMARKS.md).
    #[arg(long, default_value_t = DEFAULT_OPTIONS.alpha)]
    pub alpha: f32,
    /// Fixed encoder variance s2, as a number or a fraction like 1/3000 [default: the
    /// variance rule, 1/3000 for a latent of up to 10 and (10/latent)·(1/3000) beyond, e.g.
    /// 1/9600 for SVHN's 32]. With a learned variance, the variance of the mixture components
    /// and the start of the learned one.
    #[arg(long, value_parser = parse_fraction)]
    pub s2: Option<f64>,
    /// The paper's fixed encoder variance, or the ablation's learned one (Figure 5; a
    /// log-variance head and the VAE entropy term; supervised only; the model file keeps
    /// only the mean path).
    #[arg(long, value_parser = super::choice::<EncoderVariance>(), default_value_t = EncoderVariance::Fixed)]
    pub encoder_variance: EncoderVariance,
    /// Seed for initialisation, shuffling and noise.
    #[arg(long, default_value_t = DEFAULT_OPTIONS.seed)]
    pub seed: u64,
    /// Largest random translation of training images, in pixels (0 = none).
    #[arg(long, default_value_t = DEFAULT_OPTIONS.augment.shift)]
    pub augment_shift: f32,
    /// Largest random rotation of training images, in degrees (0 = none).
    #[arg(long, default_value_t = DEFAULT_OPTIONS.augment.rotate)]
    pub augment_rotate: f32,
    /// Largest random relative scaling of training images (0.1 = ±10 %; 0 = none).
    #[arg(long, default_value_t = DEFAULT_OPTIONS.augment.scale)]
    pub augment_scale: f32,
    /// Learning-rate schedule.
    #[arg(long, value_parser = super::choice::<LrSchedule>(), default_value_t = DEFAULT_OPTIONS.schedule)]
    pub lr_schedule: LrSchedule,
    /// Split each batch into N parts computed in parallel [default: 2 on the CPU, 1 on CUDA].
    /// Results depend on N (summation order), never on thread timing.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
}

/// Adversarial training options (issue 17).
#[derive(Debug, Clone, Args)]
pub struct AdversarialArgs {
    /// Train adversarially: each batch is attacked inside the L∞ ball (FGSM with a random
    /// start, or PGD with --adversarial-steps), and the loss adds w·α·||f(x') − μ_y||² to
    /// Eq. 7 on the clean images.
    #[arg(long)]
    pub adversarial: bool,
    /// L∞ budget ε of the inner attack.
    #[arg(long, default_value_t = DEFAULT_ADVERSARIAL.eps, requires = "adversarial")]
    pub adversarial_eps: f32,
    /// Inner attack steps (1: FGSM with random start; more: PGD).
    #[arg(long, default_value_t = DEFAULT_ADVERSARIAL.steps, requires = "adversarial")]
    pub adversarial_steps: usize,
    /// Total step length as a multiple of ε (split over the steps).
    #[arg(long, default_value_t = DEFAULT_ADVERSARIAL.step_factor, requires = "adversarial")]
    pub adversarial_step_factor: f32,
    /// Weight w of the adversarial latent term, relative to α.
    #[arg(long, default_value_t = DEFAULT_ADVERSARIAL.weight, requires = "adversarial")]
    pub adversarial_weight: f32,
    /// Epochs over which ε ramps up linearly from 0 (0: the whole ε from the first step).
    #[arg(long, default_value_t = DEFAULT_ADVERSARIAL.ramp_epochs, requires = "adversarial")]
    pub adversarial_ramp_epochs: usize,
    /// Where f(x') is pulled: its true class mean, or (CCAT-like) towards the centroid of the
    /// class means as the perturbation reaches ε, so that it is rejected.
    #[arg(long, value_parser = super::choice::<AdversarialTarget>(), default_value_t = DEFAULT_ADVERSARIAL.target, requires = "adversarial")]
    pub adversarial_target: AdversarialTarget,
    /// The loss the inner attack climbs.
    #[arg(long, value_parser = super::choice::<InnerLoss>(), default_value_t = DEFAULT_ADVERSARIAL.loss, requires = "adversarial")]
    pub adversarial_loss: InnerLoss,
}

impl AdversarialArgs {
    /// The library's settings, if adversarial training is on.
    pub fn settings(&self) -> Option<AdversarialTraining> {
        self.adversarial.then_some(AdversarialTraining {
            eps: self.adversarial_eps,
            steps: self.adversarial_steps,
            step_factor: self.adversarial_step_factor,
            weight: self.adversarial_weight,
            ramp_epochs: self.adversarial_ramp_epochs,
            target: self.adversarial_target,
            loss: self.adversarial_loss,
        })
    }
}

/// Semi-supervised options (paper §3.3).
#[derive(Debug, Clone, Args)]
pub struct SemiArgs {
    /// Train semi-supervised: N seeded, stratified training images per class keep their labels
    /// (Eq. 7), every other one is trained without (reconstruction + mixture prior); the chosen
    /// indices go to the run directory [default: every label is used].
    #[arg(long, value_name = "N")]
    pub labels_per_class: Option<usize>,
    /// Labelled images in each batch of a semi-supervised run (the rest are unlabelled).
    #[arg(long, value_name = "M", default_value_t = DEFAULT_LABELED_PER_BATCH, requires = "labels_per_class")]
    pub labeled_per_batch: usize,
    /// β, the weight of the mixture prior term of unlabelled images (chosen by the sweep in
    /// BENCHMARKS.md).
    #[arg(long, value_name = "B", default_value_t = DEFAULT_PRIOR_WEIGHT, requires = "labels_per_class")]
    pub prior_weight: f32,
    /// Which encodings calibrate a semi-supervised model's thresholds.
    #[arg(long, value_parser = super::choice::<CalibrationImages>(), default_value_t = DEFAULT_CALIBRATE_ON, requires = "labels_per_class")]
    pub calibrate_on: CalibrationImages,
}

impl SemiArgs {
    /// The semi-supervised settings, when `--labels-per-class` is given.
    pub fn settings(&self) -> Option<SemiSupervised> {
        self.labels_per_class
            .map(|labels_per_class| SemiSupervised {
                labels_per_class,
                labeled_per_batch: self.labeled_per_batch,
                prior_weight: self.prior_weight,
                calibrate_on: self.calibrate_on,
            })
    }
}

/// Threshold options.
#[derive(Debug, Clone, Args)]
pub struct CalibrationArgs {
    /// Confidence level of both thresholds (0.9973 is the 3-sigma analogue).
    #[arg(long, default_value_t = CalibrationSettings::DEFAULT.confidence)]
    pub confidence: f64,
    /// Statistic of τ_enc.
    #[arg(long, value_parser = super::choice::<TauEncStatistic>(), default_value_t = CalibrationSettings::DEFAULT.tau_enc)]
    pub tau_enc: TauEncStatistic,
    /// Covariance of the Mahalanobis distance.
    #[arg(long, value_parser = super::choice::<CovarianceKind>(), default_value_t = CalibrationSettings::DEFAULT.covariance)]
    pub covariance: CovarianceKind,
    /// τ_dec = mean + K·std of training reconstruction errors instead of their quantile at
    /// the confidence level.
    #[arg(long, value_name = "K")]
    pub tau_dec_std: Option<f64>,
    /// Scale both thresholds together so that they accept this share of the correctly
    /// classified calibration images (e.g. 0.99: the operating point of RErr@99%TPR); the
    /// statistics above set only the ratio of the two thresholds.
    #[arg(long, value_name = "RATE")]
    pub tpr: Option<f64>,
}

impl TrainArgs {
    /// The run directory (`--out`, else `runs/train`).
    pub fn run_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/train"))
    }
}

impl CalibrationArgs {
    /// The settings these arguments select.
    pub fn settings(&self) -> CalibrationSettings {
        CalibrationSettings {
            confidence: self.confidence,
            covariance: self.covariance,
            tau_enc: self.tau_enc,
            tau_dec: self
                .tau_dec_std
                .map_or(TauDecStatistic::Quantile, TauDecStatistic::MeanPlusStd),
            tpr: self.tpr,
        }
    }
}

/// Parses `0.001` or `1/3000`.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let value = match s.split_once('/') {
        Some((a, b)) => {
            let a: f64 = a.trim().parse().map_err(|e| format!("{e}"))?;
            let b: f64 = b.trim().parse().map_err(|e| format!("{e}"))?;
            a / b
        }
        None => s.trim().parse().map_err(|e| format!("{e}"))?,
    };
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("{s} is not a positive finite number"))
    }
}

/// File names inside a run directory.
pub mod files {
    /// The resumable training state.
    pub const CHECKPOINT: &str = "checkpoint.ckpt";
    /// The exported model (weights, class means, covariances, thresholds).
    pub const MODEL: &str = "model.gmvae";
    /// Per-epoch statistics.
    pub const TRAIN_LOG: &str = "train-log.json";
    /// Indices of the training images a semi-supervised run kept the labels of.
    pub const LABELED: &str = "labeled.json";
    /// Indices of the training images held out for calibration (with --calibration-holdout).
    pub const CALIBRATION_HOLDOUT: &str = "calibration-holdout.json";
}

/// Runs `gmvae train`.
pub fn run(mut args: TrainArgs) -> Result<()> {
    args.out.get_or_insert_with(|| PathBuf::from("runs/train"));
    args.config(None).validate()?;
    let split = load(&args.dataset.spec()?)?;
    let device = args.device;
    let model = dispatch(device, TrainJob { args, split })?;
    println!("model written to {}", model.display());
    Ok(())
}

impl TrainArgs {
    /// The library's training configuration these arguments select (checkpoint in the run
    /// directory) for a dataset of `classes` classes (`None` before it is loaded: the
    /// variance rule then assumes 10).
    pub fn config(&self, classes: Option<usize>) -> TrainConfig {
        let h = &self.hyper;
        let latent = self.model.latent.or(classes).unwrap_or(10);
        TrainConfig {
            preset: self.model.preset,
            latent: self.model.latent,
            options: TrainOptions {
                // Resuming without --epochs keeps the checkpoint's (the run never shortens).
                epochs: h.epochs.unwrap_or(if self.resume {
                    1
                } else {
                    DEFAULT_OPTIONS.epochs
                }),
                batch_size: h.batch_size,
                lr: h.lr,
                alpha: h.alpha,
                s2: h.s2.unwrap_or_else(|| default_s2(latent)),
                seed: h.seed,
                augment: Augment {
                    shift: h.augment_shift,
                    rotate: h.augment_rotate,
                    scale: h.augment_scale,
                },
                schedule: h.lr_schedule,
                shards: h.shards.unwrap_or(default_shards(self.device)),
                semi: self.semi.settings(),
                encoder_variance: h.encoder_variance,
                adversarial: self.adversarial.settings(),
            },
            calibration: self.calibration.settings(),
            checkpoint: Some(self.run_dir().join(files::CHECKPOINT)),
            resume: self.resume,
            train_limit: self.train_limit,
            calibration_holdout: self.calibration_holdout,
        }
    }
}

/// Training as a device job; returns the model file's path.
pub struct TrainJob {
    /// The command's arguments.
    pub args: TrainArgs,
    /// The loaded dataset.
    pub split: Split,
}

impl OnDevice for TrainJob {
    type Output = PathBuf;
    fn run<D: TrainDevice>(self, dev: D) -> Result<PathBuf> {
        let fitted = fit(&self.args, &self.split, &dev)?;
        let path = self.args.run_dir().join(files::MODEL);
        fitted.model.save(&path)?;
        Ok(path)
    }
}

/// Trains with progress bars on stderr and writes the run directory's training log.
pub fn fit<D: TrainDevice>(args: &TrainArgs, split: &Split, dev: &D) -> Result<Fitted<D>> {
    let fitted = train_and_calibrate(
        &args.config(Some(split.train.num_classes())),
        split,
        dev,
        &Bars::default(),
    )
    .map_err(|e| match e {
        Error::CheckpointExists { .. } => anyhow::anyhow!(
            "{} already holds a checkpoint; pass --resume to continue it or choose another --out",
            args.run_dir().display()
        ),
        Error::Resume(source) => anyhow::Error::new(source)
            .context("--resume needs the checkpoint of an earlier run in --out"),
        other => other.into(),
    })?;
    gmvae_trainer::atomic::write_atomically(
        &args.run_dir().join(files::TRAIN_LOG),
        gmvae_trainer::atomic::pretty_json(files::TRAIN_LOG, &fitted.history)?.as_bytes(),
    )?;
    for (name, indices) in [
        (files::LABELED, &fitted.labeled),
        (files::CALIBRATION_HOLDOUT, &fitted.held_out),
    ] {
        if !indices.is_empty() {
            gmvae_trainer::atomic::write_atomically(
                &args.run_dir().join(name),
                gmvae_trainer::atomic::pretty_json(name, indices)?.as_bytes(),
            )?;
        }
    }
    Ok(fitted)
}

/// Two CPU shards (this project's 2-core target) or one on a GPU.
fn default_shards(device: DeviceKind) -> usize {
    if describe(device) == "cuda" {
        1
    } else {
        2
    }
}
