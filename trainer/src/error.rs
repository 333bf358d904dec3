//! The library's error type: one enum over every area's typed error, so that a caller can
//! match on the area (`Error::Train`, `Error::Export`, …) and still reach the cause through
//! [`std::error::Error::source`].

use crate::atomic::{OutputError, WriteError};
use crate::attack::AttackError;
use crate::calibrate::CalibrationError;
use crate::data::DataError;
use crate::export::ExportError;
use crate::plot::grid::PlotError;
use crate::reclassify::ReclassifyError;
use crate::train::checkpoint::CheckpointError;
use crate::train::TrainError;
use std::path::PathBuf;

/// Everything the trainer library's pipeline functions can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, importing or writing a dataset.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training options or the training loop.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Reading or writing a checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Fitting the rejection thresholds.
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
    /// Writing or reading a model file.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Drawing a picture.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// An attack.
    #[error(transparent)]
    Attack(#[from] AttackError),
    /// Reclassification by latent search.
    #[error(transparent)]
    Reclassify(#[from] ReclassifyError),
    /// Writing a result file.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A fresh run would overwrite an earlier run's checkpoint.
    #[error("{} already holds a checkpoint; resume it or choose another run directory", path.display())]
    CheckpointExists {
        /// The checkpoint file.
        path: PathBuf,
    },
    /// Resuming needs a readable checkpoint.
    #[error("nothing to resume")]
    Resume(#[source] CheckpointError),
    /// A run would resume on other data than it was trained on.
    #[error(
        "the checkpoint was trained on {trained}, not on {given}: resume it with its own dataset"
    )]
    ResumeOtherData {
        /// The checkpoint's dataset.
        trained: String,
        /// The dataset given now.
        given: String,
    },
    /// A run would resume with another calibration holdout than its checkpoint's.
    #[error("the checkpoint holds out {trained} training images for calibration, not {given}: resume it with its own --calibration-holdout")]
    ResumeOtherHoldout {
        /// The checkpoint's holdout (0: none).
        trained: usize,
        /// What was asked for.
        given: usize,
    },
    /// A semi-supervised run cannot calibrate on its labelled images only when it holds out
    /// images to calibrate on (the held-out images are not labelled).
    #[error("--calibrate-on labeled uses the labelled training images, which a --calibration-holdout run does not calibrate on: use predicted or both")]
    HeldOutLabeledCalibration,
    /// The calibration holdout does not fit the training images.
    #[error("cannot hold out {holdout} of {available} training images for calibration")]
    Holdout {
        /// Images asked for.
        holdout: usize,
        /// Training images available.
        available: usize,
        /// Why.
        #[source]
        source: crate::data::DataError,
    },
    /// A run would resume with other model sizes than its checkpoint's.
    #[error("the checkpoint holds {trained}, not {given}: resume it with its own sizes")]
    ResumeOtherModel {
        /// The checkpoint's model.
        trained: String,
        /// What was asked for.
        given: String,
    },
    /// The model computes non-finite codes or reconstructions (weights too large).
    #[error("the model gives non-finite outputs on {dataset}: its weights overflow, so nothing it computes can be trusted")]
    NonFiniteOutput {
        /// The dataset evaluated.
        dataset: String,
    },
    /// A dataset does not fit a model (image size or class count).
    #[error("{dataset} ({images} images of {shape}, {classes} classes) does not fit the model ({model})")]
    DatasetMismatch {
        /// The dataset's name.
        dataset: String,
        /// Its images.
        images: usize,
        /// Its image shape, e.g. `1x28x28`.
        shape: String,
        /// Its classes.
        classes: usize,
        /// The model's input shape and classes, e.g. `1x28x28, 10 classes`.
        model: String,
    },
}

impl From<WriteError> for Error {
    fn from(e: WriteError) -> Self {
        Self::Output(OutputError::Write(e))
    }
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
