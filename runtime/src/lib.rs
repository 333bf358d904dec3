//! Heap-free, deterministic inference for gmvae models: classify an image with the
//! Gaussian-mixture VAE of "Resisting Adversarial Attacks Using Gaussian Mixture VAEs"
//! (AAAI 2019) and reject it when its latent code or its reconstruction is implausible.
//!
//! `#![no_std]`, no `alloc`, no heap, no `unsafe` (one audited call with the optional
//! `dispatch` feature, see [`Isa`]), and no panics on any input: the model file is validated
//! once by [`Model::parse`], the caller provides the scratch memory (any `&mut [f32]`: a
//! `Vec<f32>`, a fixed-size [`Workspace`], a `static` array; [`Model::workspace_sizes`] says
//! how much), and every failure is a small `Copy` [`Error`].
//!
//! ```no_run
//! use gmvae_runtime::{Decision, Model};
//! # fn run(bytes: &[u8], image: &[f32]) -> Result<(), gmvae_runtime::Error> {
//! let model = Model::parse(bytes)?;
//! let mut ws = vec![0.0f32; model.workspace_sizes().classify]; // or a `Workspace<N>`
//! let verdict = model.classify(image, &mut ws)?;
//! match verdict.decision {
//!     Decision::Accepted => println!("class {}", verdict.label),
//!     Decision::Rejected { latent, reconstruction } => {
//!         println!("rejected (latent: {latent}, reconstruction: {reconstruction})")
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # The network
//!
//! Input `C×H×W` in `[0, 1]`. Encoder: conv3×3 (C→c1) ReLU, maxpool 2 → conv3×3 (c1→c2)
//! ReLU, maxpool 2 → flatten `(c, y, x)` → dense (F→hidden) ReLU → dense (hidden→latent)
//! `= z`. Decoder: dense (latent→hidden) ReLU → dense (hidden→F) ReLU → reshape → nearest
//! upsample 2× → conv3×3 (c2→c1) ReLU → upsample 2× → conv3×3 (c1→C) → sigmoid.
//!
//! # Deterministic numerics
//!
//! Every result is a fixed function of the model bytes and the input, the same bits on every
//! target, in debug and in release (`NUMERICS.md` in this crate has the full definition):
//!
//! * **Linear layers** (convolutions, dense): each output is `bias + Σ` over its inputs in one
//!   fixed ascending order, accumulated left to right in `f32` with one rounding per multiply
//!   and one per add. No FMA (`mul_add` is never called; Rust does not contract `a * b + c`)
//!   and no target-specific intrinsics. Code vectorises *across* independent outputs (pixels,
//!   channels, units), never across the summed index. Convolution order: input channel, then
//!   kernel row, then kernel column; zero-padding taps are included (they add `w · 0`) —
//!   except the decoder's first convolution, whose input is mostly ReLU zeros: it sums
//!   kernel row, column, then input channel, over the non-zero inputs only (bit-identical
//!   to the full sum after its ReLU). Dense layers skip inputs that are exactly `±0.0` (ReLU
//!   zeros), summing the others in ascending index order.
//! * **Decoder convolutions** fold the nearest 2× upsampling into four 2×2 kernels per
//!   output channel and input channel (one per output phase); each folded weight is a sum of
//!   original weights taken in a documented order (exact in real arithmetic).
//! * **ReLU** is `if x > 0 { x } else { 0.0 }`; **max pooling** is
//!   `max(max(a, b), max(c, d))` over ReLU outputs; **sigmoid** is `1 / (1 + libm::expf(−x))`.
//! * **Reductions without independent outputs** (squared distance to a class mean,
//!   the Mahalanobis quadratic form's final sum, the reconstruction error, and in
//!   reclassification the dense layers' and decoder conv1's input gradients) use 8 lanes — term
//!   `i` goes to lane `i mod 8`, each lane starts at `+0.0` — reduced by the fixed tree
//!   `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`.
//!
//! # Memory
//!
//! Every call takes the caller's workspace as a `&mut [f32]` and uses its first `f32`s;
//! [`Model::workspace_sizes`] says how many ([`WorkspaceSizes`]). Classify needs
//! [`WorkspaceSizes::classify`]: 56 508 (221 KiB) for the paper's MNIST model, 12 700
//! (50 KiB) for the `edge` preset (c1 = 8, c2 = 16, hidden = 64). A shorter workspace is
//! [`Error::WorkspaceTooSmall`] with both numbers. On a host a `Vec<f32>` does; without a
//! heap, a [`Workspace<N>`](Workspace) (a `[f32; N]` that can live in a `static`) or any
//! array. The model's weights are read in place from the file bytes; nothing is copied at
//! parse time.
//!
//! # Reclassification
//!
//! [`Model::reclassify`] (paper §3.5) searches the latent space through the decoder alone:
//! one Adam descent of `Σ (x − g(z))²` per class mean, with a hand-written backward pass,
//! the best start wins, its nearest class mean is the label, and the same thresholds say
//! whether the input is a fooling input ([`ReclassifySettings::reject_fooling`] turns that
//! off). It needs at least [`WorkspaceSizes::reclassify`] `f32`s: 106 760 (417 KiB) for
//! the paper's MNIST model, 20 520 (80 KiB) for `edge`. With more it runs several starts in
//! lockstep, sharing each pass over the decoder's wide dense layer — faster, same bits;
//! each one more takes [`WorkspaceSizes::reclassify_per_start`], and
//! [`WorkspaceSizes::reclassify_lockstep`] (144 560 and 30 240) runs all of them.
//!
//! ```no_run
//! use gmvae_runtime::{Model, ReclassifySettings};
//! # fn run(bytes: &[u8], image: &[f32]) -> Result<(), gmvae_runtime::Error> {
//! let model = Model::parse(bytes)?;
//! let mut ws = vec![0.0f32; model.workspace_sizes().reclassify_lockstep];
//! let settings = ReclassifySettings { steps: 50, ..ReclassifySettings::DEFAULT };
//! let r = model.reclassify(image, &mut ws, &settings)?;
//! println!("class {} from start {} ({:?})", r.label, r.start, r.decision);
//! # Ok(()) }
//! ```
//!
//! A complete firmware example (parse from flash, a `static` workspace, matching on the
//! decision, typed errors) is in the repository README's "Use the runtime in firmware"
//! section; it is compiled and run as a doctest of this crate.
#![no_std]
#![cfg_attr(not(feature = "dispatch"), forbid(unsafe_code))]
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

#[cfg(test)]
#[macro_use]
extern crate std;

mod backward;
/// Hooks for the runtime's own per-stage benchmark (`benches/stages.rs`); not part of the API.
#[doc(hidden)]
pub mod bench;
mod error;
mod forward;
mod isa;
mod kernels;
mod layout;
mod lockstep;
mod model;
mod reclassify;
mod workspace;

pub use error::Error;
pub use gmvae_format::{Architecture, Calibration, FormatError};
pub use isa::Isa;
pub use model::Model;
pub use reclassify::{Reclassified, ReclassifySettings, StartValues, CONFINE_MARGIN, MAX_CLASSES};
pub use workspace::{Workspace, WorkspaceSizes};

/// The README's Rust examples, compiled and run by `cargo test` (rustdoc's `cfg(doctest)`).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Largest latent dimension the runtime supports (the size of [`Latent`]).
pub const MAX_LATENT: usize = 256;

/// A latent code `z = f(x)`, stored inline (no heap).
pub type Latent = heapless::Vec<f32, MAX_LATENT>;

/// The rejection thresholds of a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Largest accepted squared Mahalanobis distance of `z` to its class mean.
    pub tau_enc: f32,
    /// Largest accepted reconstruction error `Σ (x − g(z))²`.
    pub tau_dec: f32,
}

/// Whether a classification is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Both thresholds hold.
    Accepted,
    /// At least one threshold failed; the flags name which.
    Rejected {
        /// `mahalanobis_sq > tau_enc`.
        latent: bool,
        /// `reconstruction_error > tau_dec`.
        reconstruction: bool,
    },
}

impl Decision {
    /// Whether the classification was accepted.
    pub const fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted)
    }

    /// Which thresholds failed, as `(latent, reconstruction)`: both `false` when accepted.
    pub const fn rejection_flags(&self) -> (bool, bool) {
        match *self {
            Self::Accepted => (false, false),
            Self::Rejected {
                latent,
                reconstruction,
            } => (latent, reconstruction),
        }
    }
}

/// The result of [`Model::classify`].
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The class whose mean is nearest to `z` (Euclidean; ties to the lowest index).
    pub label: usize,
    /// The latent code `z = f(x)`.
    pub latent: Latent,
    /// Squared Mahalanobis distance of `z` to the label's mean under its precision matrix.
    pub mahalanobis_sq: f32,
    /// `Σ (x − g(z))²` over all `C·H·W` values (a sum, not a mean).
    pub reconstruction_error: f32,
    /// Accepted iff `mahalanobis_sq ≤ tau_enc` and `reconstruction_error ≤ tau_dec`.
    pub decision: Decision,
}
