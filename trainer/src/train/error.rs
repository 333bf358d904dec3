//! Why training cannot start or continue.

use crate::model::ConfigError;

/// Smallest encoder variance accepted (a normal `f32` well above underflow).
pub const MIN_S2: f64 = 1e-12;
/// Largest encoder variance accepted (class means are one unit apart).
pub const MAX_S2: f64 = 1e3;
/// Largest number of epochs accepted.
pub const MAX_EPOCHS: usize = 100_000;
/// Largest batch size accepted (a batch's tensors are allocated whole).
pub const MAX_BATCH_SIZE: usize = 1 << 16;
/// Largest number of data-parallel shards accepted (each is a thread pool).
pub const MAX_SHARDS: usize = 256;

/// Why training cannot start or continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The batch size is zero or above [`MAX_BATCH_SIZE`].
    #[error("the batch size must be between 1 and {MAX_BATCH_SIZE}, not {0}")]
    BatchSize(usize),
    /// The shard count is zero or above [`MAX_SHARDS`].
    #[error("the shard count must be between 1 and {MAX_SHARDS}, not {0}")]
    Shards(usize),
    /// The encoder variance is outside what training and the file can use.
    #[error("s2 must lie between {MIN_S2} and {MAX_S2}, not {0}")]
    S2(f64),
    /// The learning rate is not a positive number of at most 1.
    #[error("the learning rate must lie in (0, 1], not {0}")]
    LearningRate(f64),
    /// The weight of the latent term is not a positive finite number (0 drops the class
    /// means from the loss, a negative weight rewards leaving them).
    #[error("alpha must be positive and finite, not {0}")]
    Alpha(f32),
    /// There must be at least one epoch, and not absurdly many.
    #[error("the number of epochs must be between 1 and {max}, not {value}")]
    Epochs {
        /// Requested epochs.
        value: usize,
        /// The largest accepted.
        max: usize,
    },
    /// Semi-supervised training needs at least one labelled image per class.
    #[error("--labels-per-class must be at least 1, not {0}")]
    LabelsPerClass(usize),
    /// A semi-supervised batch needs a labelled and an unlabelled part.
    #[error("the labelled images per batch must be between 1 and the batch size minus 1 ({}), not {value}", batch_size.saturating_sub(1))]
    LabeledPerBatch {
        /// Requested labelled images per batch.
        value: usize,
        /// The batch size.
        batch_size: usize,
    },
    /// Adversarial training settings out of range.
    #[error(transparent)]
    Adversarial(#[from] super::adversarial::AdversarialError),
    /// Adversarial training combined with semi-supervised training or a learned variance.
    #[error("--adversarial trains the supervised model with the fixed variance; it cannot be combined with --labels-per-class or --encoder-variance learned")]
    AdversarialCombination,
    /// A learned encoder variance was asked for with semi-supervised training.
    #[error("--encoder-variance learned is the supervised ablation of Figure 5; it cannot be combined with --labels-per-class")]
    LearnedVarianceSemiSupervised,
    /// The weight of the mixture prior term is negative or not finite.
    #[error("the prior weight must be finite and at least 0, not {0}")]
    PriorWeight(f32),
    /// The labelled subset cannot be chosen from the training images.
    #[error("cannot choose the labelled images")]
    LabeledSubset(#[source] crate::data::DataError),
    /// An augmentation range is out of bounds.
    #[error("the augmentation {name} must be a finite number between 0 and {max}, not {value}")]
    Augment {
        /// Which range.
        name: &'static str,
        /// Requested value.
        value: f32,
        /// The largest accepted.
        max: f32,
    },
    /// Fewer training images of a class than a per-class covariance needs, or a label the
    /// class names do not cover.
    #[error("class {class} has {samples} training images; a per-class covariance in {latent} dimensions needs more than {latent} (use the isotropic covariance, more data, or a smaller latent)")]
    TooFewSamples {
        /// The class.
        class: usize,
        /// Its training images.
        samples: usize,
        /// The latent dimension.
        latent: usize,
    },
    /// The model's sizes are invalid for the data.
    #[error(transparent)]
    Model(#[from] ConfigError),
    /// There is nothing to train on.
    #[error("the training split is empty")]
    EmptyTrainingSet,
    /// The worker threads of the data-parallel shards could not be started.
    #[error("cannot start {shards} training threads")]
    Threads {
        /// Shards requested.
        shards: usize,
        /// What rayon said.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// The dfdx device failed (out of memory, say).
    #[error("the training device failed: {0}")]
    Device(String),
}
