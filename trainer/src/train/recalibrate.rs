//! New thresholds for a model file when its training checkpoint is not at hand (a model
//! shipped on its own, or a run directory that was cleaned up): the weights are the file's,
//! and the thresholds are fitted again, with other settings, on the training images the run
//! calibrated on: every one of them, or the stratified holdout that `--calibration-holdout n`
//! with `--seed` picked ([`calibration_holdout`], as training picks it). For a supervised run, the run's own
//! settings give back its thresholds bit for bit. A semi-supervised run calibrated on its
//! labelled images or on predicted labels, which a model file does not record: here every
//! calibration image keeps its true label.

use super::fit::{calibration_holdout, check_fits, first_images};
use crate::calibrate::{Calibration, CalibrationSettings};
use crate::data::Split;
use crate::error::Result;
use crate::infer;
use crate::trained::TrainedModel;
use dfdx::prelude::*;

/// Which training images a model file is calibrated on: those its run calibrated on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalibrationSource {
    /// Only the first N training images (the run's `--train-limit`).
    pub train_limit: Option<usize>,
    /// The run's `--calibration-holdout` (the images it held out of training), with the
    /// run's seed; `None`: every training image, as a run without a holdout calibrates.
    pub holdout: Option<(usize, u64)>,
}

/// `model` with thresholds fitted by `settings` on `images` of `split.train`, labelled by
/// their given labels (a semi-supervised run that calibrated on predicted labels is not
/// reproduced). Fails before any work on images of another shape, settings that do not
/// validate, or a holdout that the training images cannot give.
pub fn recalibrate_model<D: Device<f32>>(
    model: TrainedModel<D>,
    split: &Split,
    images: CalibrationSource,
    settings: CalibrationSettings,
) -> Result<TrainedModel<D>> {
    settings.validate()?;
    check_fits(model.network.config(), &split.train, &split.name)?;
    let available = first_images(&split.train, images.train_limit);
    if available.is_empty() {
        return Err(super::TrainError::EmptyTrainingSet.into());
    }
    let set = match images.holdout {
        None => available,
        Some((n, seed)) => available.subset(&calibration_holdout(&available, n, seed)?.1),
    };
    let encoded = infer::encode_and_reconstruct(&model.network, &model.params, set.images.view());
    let calibration = Calibration::fit(
        model.network.config(),
        model.calibration.s2,
        &encoded,
        set.labels.view(),
        settings,
    )?;
    Ok(TrainedModel {
        calibration,
        ..model
    })
}
