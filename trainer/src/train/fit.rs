//! The whole training job as one call: start (or resume) a run, train epoch by epoch with a
//! checkpoint after each, then calibrate the rejection thresholds on the training split.

use super::batch::Augment;
use super::checkpoint::Checkpoint;
use super::semi::{labeled_subset, CalibrationImages, SemiSupervised};
use super::{EncoderVariance, EpochStats, LrSchedule, TrainDevice, TrainOptions, Trainer};
use crate::calibrate::{Calibration, CalibrationSettings};
use crate::choice::Choice;
use crate::data::stratify::hold_out;
use crate::data::{Dataset, Split};
use crate::error::{Error, Result};
use crate::infer;
use crate::model::{ModelConfig, Preset};
use crate::progress::Progress;
use crate::trained::TrainedModel;
use std::path::PathBuf;

/// Everything a training run is told: model sizes, hyper-parameters, threshold settings, and
/// where (if anywhere) it keeps its checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Size preset (`None`: the paper's for a fresh run, the checkpoint's when resuming; a
    /// resumed run refuses a preset other than its checkpoint's).
    pub preset: Option<Preset>,
    /// Latent dimension (default: the number of classes, or the checkpoint's when resuming;
    /// a resumed run refuses another).
    pub latent: Option<usize>,
    /// Hyper-parameters (ignored but for `epochs` when resuming: the checkpoint's win).
    pub options: TrainOptions,
    /// How the thresholds are fitted after training.
    pub calibration: CalibrationSettings,
    /// The checkpoint file, written atomically after every epoch; `None` keeps the run in
    /// memory only.
    pub checkpoint: Option<PathBuf>,
    /// Continue from `checkpoint` instead of starting afresh (`options.epochs` may extend the
    /// run).
    pub resume: bool,
    /// Train on only the first `n` training images.
    pub train_limit: Option<usize>,
    /// Hold out this many training images (stratified by class, chosen with the run's seed by
    /// [`hold_out`]) from training and calibrate the thresholds on them instead of on the
    /// images trained on (`None`: calibrate on the training images, as the paper does; when
    /// resuming, the checkpoint's, and another is refused).
    pub calibration_holdout: Option<usize>,
}

impl Default for TrainConfig {
    /// The paper's model with [`DEFAULT_OPTIONS`] and the default calibration, no checkpoint.
    fn default() -> Self {
        Self {
            preset: None,
            latent: None,
            options: DEFAULT_OPTIONS,
            calibration: CalibrationSettings::DEFAULT,
            checkpoint: None,
            resume: false,
            train_limit: None,
            calibration_holdout: None,
        }
    }
}

/// The settings of the paper's runs (25 epochs, batch 64, Adam 1e-3 with cosine decay,
/// α = 200, s2 = 1/3000, seed 2019, mild augmentation, 2 shards): what `TrainConfig::default`
/// and the `gmvae train` options start from.
pub const DEFAULT_OPTIONS: TrainOptions = TrainOptions {
    epochs: 25,
    batch_size: 64,
    lr: 1e-3,
    alpha: 200.0,
    s2: 1.0 / 3000.0,
    seed: 2019,
    augment: Augment {
        shift: 2.0,
        rotate: 10.0,
        scale: 0.1,
    },
    schedule: LrSchedule::Cosine,
    shards: 2,
    semi: None,
    encoder_variance: EncoderVariance::Fixed,
    adversarial: None,
};

impl TrainConfig {
    /// Checks the settings before any work (a fresh run's hyper-parameters, the calibration
    /// settings, resume without a checkpoint).
    pub fn validate(&self) -> Result<()> {
        if !self.resume {
            self.options.validate()?;
        }
        self.calibration.validate()?;
        if self.resume && self.checkpoint.is_none() {
            return Err(Error::Resume(super::checkpoint::CheckpointError::Missing));
        }
        Ok(())
    }
}

/// A trained and calibrated model with the statistics of every epoch.
pub struct Fitted<D: TrainDevice> {
    /// The model, ready to save or evaluate.
    pub model: TrainedModel<D>,
    /// One entry per epoch of the whole run (resumed epochs included).
    pub history: Vec<EpochStats>,
    /// Indices (into the training images after `train_limit`) of the images held out and
    /// calibrated on; empty when the run calibrated on the images it trained on.
    pub held_out: Vec<usize>,
    /// Indices (into the training images after `train_limit`) of the images a
    /// semi-supervised run trained with their labels; empty in supervised training.
    pub labeled: Vec<usize>,
}

/// Trains (or resumes) on `split.train`, checkpointing each epoch when
/// `config.checkpoint` is set, then calibrates on the images trained on, or on the held-out
/// part of the training split when `config.calibration_holdout` is set. `split.test` is the
/// monitoring split of the accuracy column. Epochs, statistics and notes go to `progress`.
pub fn train_and_calibrate<D: TrainDevice>(
    config: &TrainConfig,
    split: &Split,
    dev: &D,
    progress: &dyn Progress,
) -> Result<Fitted<D>> {
    config.validate()?;
    let available = first_images(&split.train, config.train_limit);
    if available.is_empty() {
        return Err(super::TrainError::EmptyTrainingSet.into());
    }
    let (mut trainer, holdout) = start(config, &available, &split.name, progress, dev)?;
    let parts = TrainingParts::new(&available, holdout, &trainer.options)?;
    let train = &parts.train;
    let calibration_set = parts.calibration_set(trainer.options.semi)?;
    if matches!(calibration_set.labels, CalibrationLabels::Given) {
        check_class_counts(
            &calibration_set.images,
            trainer.network.config(),
            config.calibration,
        )?;
    }
    let epochs = config.options.epochs.max(trainer.options.epochs);
    trainer.options.epochs = epochs;
    progress.note(&format!(
        "training {} on {} ({} train / {} test images, {} classes): {} parameters, {} epoch{}",
        describe(trainer.network.config()),
        split.name,
        train.len(),
        split.test.len(),
        train.num_classes(),
        trainer.network.config().param_count(),
        epochs,
        if epochs == 1 { "" } else { "s" }
    ));
    if let Some(semi) = trainer.options.semi {
        progress.note(&format!(
            "semi-supervised: {} labelled images ({} per class), {} unlabelled; {} labelled per batch of {}, prior weight {}",
            parts.labeled.len(),
            semi.labels_per_class,
            train.len() - parts.labeled.len(),
            semi.labeled_per_batch,
            trainer.options.batch_size,
            semi.prior_weight
        ));
    }
    if trainer.params.log_variance.is_some() {
        progress.note(
            "learned encoder variance (the Figure 5 ablation): the log-variance head is trained and \
             checkpointed, but the model file holds only the mean path and the thresholds",
        );
    }
    if let Some(held) = &parts.held_out {
        progress.note(&format!(
            "{} training images held out (stratified, seed {}) to calibrate the thresholds",
            held.len(),
            trainer.options.seed
        ));
    }
    while trainer.epochs_done() < epochs {
        let stats = trainer.train_epoch(train, Some(&split.test), progress)?;
        if let Some(path) = &config.checkpoint {
            Checkpoint::capture(&trainer, &split.name, &train.class_names, holdout).save(path)?;
        }
        let robust = match (stats.fgsm_accuracy, stats.pgd_accuracy) {
            (Some(fgsm), Some(pgd)) => {
                format!(
                    "  FGSM acc {:.1}%  PGD-10 acc {:.1}%",
                    100.0 * fgsm,
                    100.0 * pgd
                )
            }
            _ => String::new(),
        };
        let variance = if trainer.params.log_variance.is_some() {
            format!(
                "  var penalty {:.5}  mean var {:.3e}",
                stats.variance_penalty, stats.encoder_variance
            )
        } else {
            String::new()
        };
        if let Some(warning) = catastrophic_overfitting(&trainer.history) {
            progress.note(&warning);
        }
        progress.note(&format!(
            "epoch {:>3}/{epochs}  loss {:.3}  rec {:.3}  lat {:.5}{variance}  test acc {:.2}%{robust}  {:.0} img/s",
            stats.epoch,
            stats.total,
            stats.reconstruction,
            stats.latent,
            100.0 * stats.monitor_accuracy.unwrap_or(f64::NAN),
            stats.images_per_second
        ));
    }
    let history = trainer.history.clone();
    let model = calibrated(
        trainer,
        &calibration_set,
        config.calibration,
        split.name.clone(),
        train.class_names.clone(),
    )?;
    Ok(Fitted {
        model,
        history,
        labeled: parts.labeled_indices(),
        held_out: parts.held_out_indices,
    })
}

/// A warning when the last epoch shows catastrophic overfitting (Wong et al. 2020): PGD
/// accuracy at least [`OVERFITTING_DROP`] below its best so far while FGSM accuracy did not
/// fall — the model has learned to defeat the one-step attack, not the threat.
pub fn catastrophic_overfitting(history: &[EpochStats]) -> Option<String> {
    let last = history.last()?;
    let (fgsm, pgd) = (last.fgsm_accuracy?, last.pgd_accuracy?);
    let earlier = &history[..history.len() - 1];
    let best = earlier
        .iter()
        .filter_map(|s| s.pgd_accuracy)
        .fold(f64::NAN, f64::max);
    let previous_fgsm = earlier.last()?.fgsm_accuracy?;
    (best - pgd >= OVERFITTING_DROP && fgsm >= previous_fgsm).then(|| {
        format!(
            "warning: catastrophic overfitting in epoch {}: PGD-10 accuracy fell to {:.1}% (best {:.1}%) while FGSM accuracy rose to {:.1}%; lower --adversarial-step-factor, use --adversarial-steps 2+, or keep an earlier checkpoint",
            last.epoch,
            100.0 * pgd,
            100.0 * best,
            100.0 * fgsm
        )
    })
}

/// The fall of PGD accuracy below its best that [`catastrophic_overfitting`] reports.
pub const OVERFITTING_DROP: f64 = 0.2;

/// Fails before the first step if calibration will not be possible: a per-class covariance
/// needs more training images of every class than the latent has dimensions.
fn check_class_counts(
    train: &Dataset,
    model: &ModelConfig,
    settings: CalibrationSettings,
) -> Result<()> {
    if settings.covariance != crate::calibrate::CovarianceKind::PerClass {
        return Ok(());
    }
    let counts = train.class_counts();
    for class in 0..model.classes {
        let samples = counts.get(class).copied().unwrap_or(0);
        if samples <= model.latent {
            return Err(super::TrainError::TooFewSamples {
                class,
                samples,
                latent: model.latent,
            }
            .into());
        }
    }
    Ok(())
}

/// The first `limit` images of `data`, or all of them.
pub fn first_images(data: &Dataset, limit: Option<usize>) -> Dataset {
    match limit {
        Some(n) => data.subset(&(0..n.min(data.len())).collect::<Vec<_>>()),
        None => data.clone(),
    }
}

/// A fresh trainer, or the checkpoint's when resuming, with the calibration holdout of the run.
fn start<D: TrainDevice>(
    config: &TrainConfig,
    train: &Dataset,
    name: &str,
    progress: &dyn Progress,
    dev: &D,
) -> Result<(Trainer<D>, Option<usize>)> {
    if config.resume {
        let path = config
            .checkpoint
            .as_ref()
            .ok_or(Error::Resume(super::checkpoint::CheckpointError::Missing))?;
        let ckpt = Checkpoint::load(path).map_err(Error::Resume)?;
        check_fits(&ckpt.meta.config, train, name)?;
        check_same_model(&ckpt.meta.config, config)?;
        if ckpt.meta.dataset != name || ckpt.meta.class_names != train.class_names {
            return Err(Error::ResumeOtherData {
                trained: ckpt.meta.dataset.clone(),
                given: name.to_owned(),
            });
        }
        let holdout = ckpt.meta.calibration_holdout;
        if config
            .calibration_holdout
            .is_some_and(|n| Some(n) != holdout)
        {
            return Err(Error::ResumeOtherHoldout {
                trained: holdout.unwrap_or(0),
                given: config.calibration_holdout.unwrap_or(0),
            });
        }
        progress.note(&format!(
            "resuming from {} after epoch {}",
            path.display(),
            ckpt.meta.history.len()
        ));
        return Ok((ckpt.restore(dev)?, holdout));
    }
    if let Some(path) = config.checkpoint.as_ref().filter(|p| p.exists()) {
        return Err(Error::CheckpointExists { path: path.clone() });
    }
    let shape = &train.shape;
    let model = ModelConfig::from_preset(
        config.preset.unwrap_or(Preset::Paper),
        (shape.channels, shape.height, shape.width),
        train.num_classes(),
        config.latent,
    )
    .map_err(super::TrainError::Model)?;
    Ok((
        Trainer::new(model, config.options, dev)?,
        config.calibration_holdout,
    ))
}

/// The images a run trains on, the held-out ones it calibrates on (if any), and the labelled
/// subset of a semi-supervised run.
pub struct TrainingParts {
    /// The images trained on.
    pub train: Dataset,
    /// The held-out images, when the run holds some out.
    pub held_out: Option<Dataset>,
    /// Indices of the held-out images in the available training images (empty without a
    /// holdout).
    pub held_out_indices: Vec<usize>,
    /// Indices into `train` of the images trained with their labels in a semi-supervised
    /// run (empty in supervised training).
    pub labeled: Vec<usize>,
    /// Indices of `train`'s images in the available training images.
    kept: Vec<usize>,
}

/// The images the thresholds are fitted on, and which labels the fit may use.
pub struct CalibrationSet {
    /// The images.
    pub images: Dataset,
    /// Their labels, or the classes their encodings are nearest to.
    pub labels: CalibrationLabels,
}

/// The labels a calibration uses.
pub enum CalibrationLabels {
    /// Every image's own label.
    Given,
    /// Each image's nearest class mean, except the images at these indices, which keep their
    /// own label (the labelled images of a semi-supervised run).
    PredictedExcept(Vec<usize>),
}

impl TrainingParts {
    /// Splits `available` (the training split after `train_limit`): with `holdout = Some(n)`,
    /// [`hold_out`]`(labels, n, seed)` picks the `n` calibration images; otherwise every image
    /// is trained on and calibrated on. A semi-supervised run then picks its labelled images
    /// from the rest with [`labeled_subset`].
    pub fn new(
        available: &Dataset,
        holdout: Option<usize>,
        options: &TrainOptions,
    ) -> Result<Self> {
        let seed = options.seed;
        let (train, held_out, held_out_indices, kept) = match holdout {
            None => (
                available.clone(),
                None,
                Vec::new(),
                (0..available.len()).collect(),
            ),
            Some(n) => {
                let (kept, held) = calibration_holdout(available, n, seed)?;
                (
                    available.subset(&kept),
                    Some(available.subset(&held)),
                    held,
                    kept,
                )
            }
        };
        let labeled = match options.semi {
            None => Vec::new(),
            Some(semi) => {
                let labels = train.labels.as_slice().unwrap_or(&[]);
                labeled_subset(labels, semi.labels_per_class, seed)
                    .map_err(super::TrainError::LabeledSubset)?
            }
        };
        Ok(Self {
            train,
            held_out,
            held_out_indices,
            labeled,
            kept,
        })
    }

    /// The images the thresholds are fitted on: the held-out ones, else those trained on;
    /// in semi-supervised training with the labels `semi.calibrate_on` allows.
    pub fn calibration_set(&self, semi: Option<SemiSupervised>) -> Result<CalibrationSet> {
        let base = self.held_out.as_ref().unwrap_or(&self.train);
        let Some(semi) = semi else {
            return Ok(CalibrationSet {
                images: base.clone(),
                labels: CalibrationLabels::Given,
            });
        };
        Ok(match (semi.calibrate_on, &self.held_out) {
            (CalibrationImages::Labeled, Some(_)) => return Err(Error::HeldOutLabeledCalibration),
            (CalibrationImages::Labeled, None) => CalibrationSet {
                images: self.train.subset(&self.labeled),
                labels: CalibrationLabels::Given,
            },
            (CalibrationImages::Predicted, _) | (CalibrationImages::Both, Some(_)) => {
                CalibrationSet {
                    images: base.clone(),
                    labels: CalibrationLabels::PredictedExcept(Vec::new()),
                }
            }
            (CalibrationImages::Both, None) => CalibrationSet {
                images: self.train.clone(),
                labels: CalibrationLabels::PredictedExcept(self.labeled.clone()),
            },
        })
    }

    /// The labelled images' indices in the available training images.
    pub fn labeled_indices(&self) -> Vec<usize> {
        self.labeled
            .iter()
            .filter_map(|&i| self.kept.get(i).copied())
            .collect()
    }
}

/// Calibrates a checkpoint's model on `split.train` (its first `train_limit` images, or the
/// part of them the run held out for calibration): the export of a run that was stopped, or
/// re-calibration with other settings.
pub fn calibrate_checkpoint<D: TrainDevice>(
    checkpoint: &Checkpoint,
    split: &Split,
    settings: CalibrationSettings,
    train_limit: Option<usize>,
    dev: &D,
) -> Result<TrainedModel<D>> {
    settings.validate()?;
    check_fits(&checkpoint.meta.config, &split.train, &split.name)?;
    let available = first_images(&split.train, train_limit);
    if available.is_empty() {
        return Err(super::TrainError::EmptyTrainingSet.into());
    }
    let meta = &checkpoint.meta;
    let parts = TrainingParts::new(&available, meta.calibration_holdout, &meta.options)?;
    let calibration_set = parts.calibration_set(meta.options.semi)?;
    let trainer = checkpoint.restore(dev)?;
    calibrated(
        trainer,
        &calibration_set,
        settings,
        meta.dataset.clone(),
        meta.class_names.clone(),
    )
}

/// The indices `(kept, held)` of `--calibration-holdout n` with `seed` in `available`: the
/// stratified, seeded [`hold_out`] that training and re-calibration both use.
pub fn calibration_holdout(
    available: &Dataset,
    n: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let labels = available.labels.as_slice().unwrap_or(&[]);
    hold_out(labels, n, seed).map_err(|source| Error::Holdout {
        holdout: n,
        available: available.len(),
        source,
    })
}

/// Fails unless `data` has the model's image shape and no more classes than it.
pub fn check_fits(config: &ModelConfig, data: &Dataset, name: &str) -> Result<()> {
    let shape = data.shape;
    if (shape.channels, shape.height, shape.width)
        != (config.in_channels, config.height, config.width)
        || data.num_classes() > config.classes
    {
        return Err(Error::DatasetMismatch {
            dataset: name.to_owned(),
            images: data.len(),
            shape: shape.to_string(),
            classes: data.num_classes(),
            model: format!(
                "{}x{}x{}, {} classes",
                config.in_channels, config.height, config.width, config.classes
            ),
        });
    }
    Ok(())
}

/// Fits the thresholds on `set` (the images trained on, or the held-out part of the
/// training split, with their labels or the classes their encodings are nearest to) and returns the trainer's network as a model ready to save under `dataset` with
/// `class_names`. Shared by training and by export from a checkpoint.
pub fn calibrated<D: TrainDevice>(
    trainer: Trainer<D>,
    set: &CalibrationSet,
    settings: CalibrationSettings,
    dataset: String,
    class_names: Vec<String>,
) -> Result<TrainedModel<D>> {
    let images = &set.images;
    let encoded =
        infer::encode_and_reconstruct(&trainer.network, &trainer.params, images.images.view());
    let labels = match &set.labels {
        CalibrationLabels::Given => images.labels.clone(),
        CalibrationLabels::PredictedExcept(kept) => {
            let classes = trainer.network.config().classes;
            let mut labels: ndarray::Array1<u8> = infer::nearest_means(&encoded.latents, classes)
                .into_iter()
                .map(|c| u8::try_from(c).unwrap_or(u8::MAX))
                .collect();
            for &i in kept {
                if let (Some(label), Some(&given)) = (labels.get_mut(i), images.labels.get(i)) {
                    *label = given;
                }
            }
            labels
        }
    };
    let calibration = Calibration::fit(
        trainer.network.config(),
        trainer.options.s2,
        &encoded,
        labels.view(),
        settings,
    )?;
    Ok(TrainedModel {
        network: trainer.network,
        params: trainer.params,
        calibration,
        dataset,
        class_names,
    })
}

/// "the paper-sized model" etc., from the sizes (a resumed run's preset is not recorded).
pub fn describe(config: &ModelConfig) -> String {
    match config.preset() {
        Some(Preset::Paper) => "the paper-sized model".to_owned(),
        Some(preset) => format!("the {} model", preset.name()),
        None => format!(
            "a custom model ({}/{} channels, {} hidden)",
            config.conv1, config.conv2, config.hidden
        ),
    }
}

/// Fails unless the checkpoint's sizes are the preset and latent width the caller asked for
/// (either may be left to the checkpoint).
fn check_same_model(trained: &ModelConfig, config: &TrainConfig) -> Result<()> {
    let preset_differs = config.preset.is_some_and(|p| trained.preset() != Some(p));
    let latent_differs = config.latent.is_some_and(|l| trained.latent != l);
    if preset_differs || latent_differs {
        let given = match (config.preset, config.latent) {
            (Some(p), Some(l)) => format!("the {p} preset with latent {l}"),
            (Some(p), None) => format!("the {p} preset"),
            (None, l) => format!("latent {}", l.unwrap_or(trained.latent)),
        };
        return Err(Error::ResumeOtherModel {
            trained: format!("{} with latent {}", describe(trained), trained.latent),
            given,
        });
    }
    Ok(())
}
