//! The runtime's error type.

use core::fmt;

use gmvae_format::FormatError;

/// Why a runtime call failed. Small and `Copy`; no allocation, no strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The model bytes were rejected by the format reader.
    Format(FormatError),
    /// The model's latent dimension exceeds [`crate::MAX_LATENT`].
    LatentTooWide {
        /// The model's latent dimension.
        latent: usize,
        /// The largest supported.
        max: usize,
    },
    /// The model's sizes do not fit this target's `usize` (workspace or tensor offsets), or
    /// break a runtime limit (height or width not a multiple of 4, feature count ≥ 2²⁴).
    ModelTooLarge,
    /// The caller's workspace holds fewer `f32`s than the call needs.
    WorkspaceTooSmall {
        /// `f32`s the call needs ([`crate::Model::workspace_sizes`]).
        needed: usize,
        /// `f32`s in the caller's workspace (the slice's length).
        available: usize,
    },
    /// The image does not have `C·H·W` values.
    ImageLength {
        /// `C·H·W`.
        expected: usize,
        /// Values passed.
        found: usize,
    },
    /// Image value `index` is NaN or infinite.
    NonFiniteInput {
        /// Flat index into the `[C][H][W]` image.
        index: usize,
    },
    /// Image value `index` is outside `[0, 1]`.
    PixelOutOfRange {
        /// Flat index into the `[C][H][W]` image.
        index: usize,
    },
    /// The latent code passed to [`crate::Model::decode_into`] has the wrong length.
    LatentLength {
        /// The model's latent dimension.
        expected: usize,
        /// Values passed.
        found: usize,
    },
    /// Latent value `index` passed to [`crate::Model::decode_into`] is NaN or infinite.
    NonFiniteLatent {
        /// Index into the latent code.
        index: usize,
    },
    /// The output buffer passed to [`crate::Model::decode_into`] does not have `C·H·W` values.
    OutputLength {
        /// `C·H·W`.
        expected: usize,
        /// Values passed.
        found: usize,
    },
    /// A [`crate::ReclassifySettings`] field is out of its documented range.
    InvalidSetting {
        /// The field's name.
        name: &'static str,
    },
    /// The network produced a NaN or infinite latent code, distance or error (the weights
    /// overflow `f32` for this input).
    NonFiniteOutput,
    /// An internal consistency check failed. This indicates a bug in `gmvae-runtime`; it is
    /// reported instead of panicking.
    Internal,
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

impl From<crate::kernels::ShapeMismatch> for Error {
    fn from(_: crate::kernels::ShapeMismatch) -> Self {
        Self::Internal
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(e) => write!(f, "invalid model file: {e}"),
            Self::LatentTooWide { latent, max } => {
                write!(
                    f,
                    "latent dimension {latent} exceeds the runtime maximum {max}"
                )
            }
            Self::ModelTooLarge => write!(f, "model sizes exceed what this target can address"),
            Self::WorkspaceTooSmall { needed, available } => write!(
                f,
                "workspace too small: {needed} f32 needed, {available} available"
            ),
            Self::ImageLength { expected, found } => {
                write!(f, "image has {found} values, expected {expected}")
            }
            Self::NonFiniteInput { index } => write!(f, "image value {index} is not finite"),
            Self::PixelOutOfRange { index } => write!(f, "image value {index} is outside [0, 1]"),
            Self::LatentLength { expected, found } => {
                write!(f, "latent code has {found} values, expected {expected}")
            }
            Self::NonFiniteLatent { index } => write!(f, "latent value {index} is not finite"),
            Self::OutputLength { expected, found } => {
                write!(f, "output buffer has {found} values, expected {expected}")
            }
            Self::InvalidSetting { name } => {
                write!(f, "reclassification setting `{name}` is out of range")
            }
            Self::NonFiniteOutput => write!(f, "the network produced a non-finite value"),
            Self::Internal => write!(f, "internal consistency check failed (runtime bug)"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Format(e) => Some(e),
            _ => None,
        }
    }
}
