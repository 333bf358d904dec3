//! The gmvae compact weight format.
//!
//! One file holds a Gaussian-mixture VAE classifier of a fixed architecture family: its
//! sizes, the 16 network tensors, class means, per-class precision matrices, rejection
//! thresholds with the settings that produced them, and a dataset name with class names.
//! `SPEC.md` next to this crate's manifest defines the bytes.
//!
//! * Without features the crate is `#![no_std]` and allocation-free: [`ModelView::parse`]
//!   validates a `&[u8]` once, after which every accessor is infallible and zero-copy.
//! * The `std` feature adds the byte-deterministic writer (`ModelFile`) and the `corrupt`
//!   module, which makes deliberately broken files for fixtures and tests.
#![no_std]
#![forbid(unsafe_code)]
// No panics on any input: slice indexing, unwrap/expect and explicit panics cannot compile
// into the library (tests may use them).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

#[cfg(feature = "std")]
extern crate std;

mod arch;
mod bytes;
mod calib;
// The writer and the corruption tool lay out and edit bytes they produced themselves (never
// untrusted input), at offsets fixed by the layout; they are `std`-only.
#[cfg(feature = "std")]
#[allow(clippy::indexing_slicing)]
pub mod corrupt;
pub mod crc;
mod error;
mod header;
pub mod layout;
pub mod le;
pub mod limits;
mod precision;
mod strings;
mod table;
mod tensor;
mod view;
#[cfg(feature = "std")]
#[allow(clippy::indexing_slicing)]
mod writer;

pub use arch::{Activation, Architecture, Layer, LayerKind};
pub use calib::{Calibration, CovarianceKind, TauDecStatistic};
pub use crc::crc32;
pub use error::{CalibrationField, Dim, FormatError, Section, Threshold};
pub use le::LeF32;
pub use strings::ClassNames;
pub use tensor::{Entry, Shape, TensorId};
pub use view::ModelView;
#[cfg(feature = "std")]
pub use writer::{isotropic_precisions, one_hot_means, ModelFile, WriteError};
