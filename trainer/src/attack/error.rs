//! The one error type of the attacks: every variant renders as a single sentence that names the
//! setting, input or file at fault; failures of other crates are kept as the error's source
//! (not repeated in the message: print the chain, as `{:#}` of an `anyhow::Error` does, to see
//! them). Also the file writes of the attack results, which report their failures in it.

use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Everything that can go wrong while attacking a model or writing the results.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AttackError {
    /// A budget ε is negative, infinite or not a number.
    #[error("ε = {eps} is not a budget: every ε must be a finite non-negative number")]
    InvalidBudget {
        /// The budget given.
        eps: f32,
    },
    /// The step size of an iterative attack is negative or not a number.
    #[error("the step size {step} must be a non-negative number")]
    InvalidStepSize {
        /// The step size given.
        step: f32,
    },
    /// A count that must be at least 1 (steps, restarts, targets) is zero.
    #[error("the number of {setting} must be at least 1")]
    ZeroCount {
        /// The setting at fault (`steps`, `restarts`, `targets`).
        setting: &'static str,
    },
    /// An exponent of the Eq. 10 / Eq. 11 loss is below 1.
    #[error("the exponents of the loss must be at least 1 (got a = {a}, b = {b})")]
    InvalidExponents {
        /// Exponent a of the reconstruction term.
        a: f32,
        /// Exponent b of the Mahalanobis term.
        b: f32,
    },
    /// The learning rate of the Eq. 10 / Eq. 11 optimiser is not positive.
    #[error("the learning rate {lr} must be positive")]
    InvalidLearningRate {
        /// The learning rate given.
        lr: f32,
    },
    /// The source model of a transfer attack takes other images or has other classes.
    #[error(
        "the transfer source model takes other images or has other classes than the attacked model"
    )]
    TransferShape,
    /// The source model of a transfer attack was trained on another dataset.
    #[error(
        "the transfer source was trained on {source_dataset}, the attacked model on {attacked}"
    )]
    TransferDataset {
        /// The source model's dataset.
        source_dataset: String,
        /// The attacked model's dataset.
        attacked: String,
    },
    /// The images do not have as many values each as the model has input pixels.
    #[error("the images have {found} values each but the model expects {expected}")]
    ImageSize {
        /// Values per image.
        found: usize,
        /// Input pixels of the model.
        expected: usize,
    },
    /// There is not exactly one label (or target) per image.
    #[error("there are {labels} labels for {images} images; every image needs exactly one")]
    LabelCount {
        /// Labels given.
        labels: usize,
        /// Images given.
        images: usize,
    },
    /// A label (or target) names a class the model does not have.
    #[error("label {label} is not one of the model's {classes} classes")]
    UnknownClass {
        /// The label at fault.
        label: usize,
        /// Classes of the model.
        classes: usize,
    },
    /// A directory for the results could not be created.
    #[error("cannot create directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's complaint.
        #[source]
        source: io::Error,
    },
    /// A result file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's complaint.
        #[source]
        source: io::Error,
    },
    /// Results could not be serialised as JSON.
    #[error("cannot encode the contents of {} as JSON", path.display())]
    Json {
        /// The file the JSON was for.
        path: PathBuf,
        /// serde_json's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A result file could not be read back (missing, unreadable, too large, not JSON of
    /// the expected kind).
    #[error("cannot read {} as {expected}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// Why not.
        reason: String,
    },
    /// Security reports that cannot be pooled: none given, or one without a budget another
    /// has (pooling needs the same budgets from every report).
    #[error("cannot pool the reports of “{label}”: {reason}")]
    Pool {
        /// The model whose reports these are.
        label: String,
        /// Why not.
        reason: String,
    },
    /// The inputs to set aside (`--exclude-seen`) do not fit the test split.
    #[error("cannot set aside the inputs of earlier evaluations: {reason}")]
    SeenInputs {
        /// Why not.
        reason: String,
    },
    /// A chart could not be encoded as PNG.
    #[error("cannot encode the chart “{title}” as PNG")]
    Png {
        /// The chart's title.
        title: String,
        /// The PNG encoder's complaint.
        #[source]
        source: png::EncodingError,
    },
    /// An example grid could not be drawn.
    #[error("cannot draw the example grid {}", path.display())]
    Plot {
        /// The grid's file.
        path: PathBuf,
        /// What the plotting module found.
        #[source]
        source: crate::plot::grid::PlotError,
    },
}

/// Writes `bytes` to `path` atomically (see [`crate::atomic::write`]), creating its parent
/// directories first.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AttackError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| AttackError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    crate::atomic::write(path, bytes).map_err(|source| AttackError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Writes the JSON `json` (a serialisation of the results) to `path` (see [`write_file`]).
pub(super) fn write_json(path: &Path, json: serde_json::Result<String>) -> Result<(), AttackError> {
    let json = json.map_err(|source| AttackError::Json {
        path: path.to_owned(),
        source,
    })?;
    write_file(path, json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_failures_name_the_directory_or_file_and_keep_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        write_file(&blocker, b"x").unwrap();
        assert_eq!(std::fs::read(&blocker).unwrap(), b"x");
        let err = write_file(&blocker.join("sub").join("a.json"), b"x").unwrap_err();
        assert!(matches!(err, AttackError::CreateDir { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("cannot create directory {}", blocker.join("sub").display())
        );
        assert!(std::error::Error::source(&err).is_some());
        let err = write_file(&dir.path().join("missing").join(".."), b"x").unwrap_err();
        assert!(err.to_string().starts_with("cannot write "), "{err}");
    }
}
