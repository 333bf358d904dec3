//! Why training cannot start or continue.

use crate::model::ConfigError;

/// Why training cannot start or continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The batch size is zero.
    #[error("the batch size must be at least 1")]
    BatchSize,
    /// The shard count is zero.
    #[error("the shard count must be at least 1")]
    Shards,
    /// The encoder variance is not a positive finite number.
    #[error("s2 must be positive and finite, not {0}")]
    S2(f64),
    /// The learning rate is not a positive finite number.
    #[error("the learning rate must be positive and finite, not {0}")]
    LearningRate(f64),
    /// The weight of the latent term is not finite.
    #[error("alpha must be finite, not {0}")]
    Alpha(f32),
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
