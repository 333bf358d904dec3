//! Why a reclassification could not run.

use crate::attack::AttackError;

/// Why a reclassification could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReclassifyError {
    /// The settings are out of range (the runtime's own check).
    #[error("invalid reclassification settings")]
    Settings(#[source] gmvae_runtime::Error),
    /// The images are not the model's size.
    #[error("the images have {found} values each but the model expects {expected}")]
    ImageSize {
        /// Values per image.
        found: usize,
        /// Values the model expects.
        expected: usize,
    },
    /// The runtime refuses the model file.
    #[error("the runtime cannot run this model")]
    Model(#[source] gmvae_runtime::Error),
    /// The runtime failed on one image (a non-finite output, say).
    #[error("the runtime failed to reclassify image {index}")]
    Runtime {
        /// The image's row.
        index: usize,
        /// What the runtime said.
        #[source]
        source: gmvae_runtime::Error,
    },
    /// The model gave a non-finite value on an image (weights too large to compute with).
    #[error("the model gives a non-finite value on image {index}: its weights overflow")]
    NonFinite {
        /// The image's row.
        index: usize,
    },
    /// The model needs more workspace than a host tool allocates.
    #[error("the model needs {needed} f32 of workspace, more than {max}")]
    WorkspaceTooLarge {
        /// `f32`s the model needs.
        needed: usize,
        /// [`super::engine::MAX_WORKSPACE`].
        max: usize,
    },
    /// The worker threads could not be started.
    #[error("cannot start {threads} reclassification threads")]
    Threads {
        /// Threads requested.
        threads: usize,
        /// What rayon said.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// A security report to combine with attacked other inputs: its seed drew another sample.
    #[error("its inputs were drawn with --seed {report}, this attack's would be drawn with --seed {attack}; pass --seed {report}")]
    ReportSeed {
        /// The report's seed.
        report: u64,
        /// This attack's seed.
        attack: u64,
    },
    /// The attack that makes Table 2's adversarial inputs failed.
    #[error(transparent)]
    Attack(#[from] AttackError),
}
