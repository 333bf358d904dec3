//! Adversarial attacks on the Gaussian-mixture VAE classifier and the security report.
//!
//! Every attack runs batched on the dfdx device with gradients from dfdx autograd, is seeded,
//! and keeps its inputs inside the ε-ball of its norm and inside [0, 1]:
//!
//! * [`fgsm`](mod@fgsm) — Fast Gradient Sign Method on the encoder alone (the paper's Figure 3
//!   sweep);
//! * [`pgd`] — Projected Gradient Descent (L∞ and L2, random start) on the encoder alone;
//! * [`mim`] — the Momentum Iterative Method on the encoder alone;
//! * [`whitebox`] — the paper's white-box targeted attack (Eq. 10) on the whole model;
//! * [`fooling`] — the paper's fooling attack from uniform noise (Eq. 11);
//! * [`adaptive`] — adaptive L∞ PGD on the full defended model (Tramèr et al. 2020);
//! * [`square`] — the gradient-free Square attack on the same objective, from forward passes.
//!
//! [`metrics`] scores adversarial inputs the way the deployed model would (accept only below
//! both thresholds); [`suite`] runs each attack on a sample set; [`results`] writes one
//! attack's JSON, Markdown, SVG/PNG curves and image grids; [`report`] combines them all, with
//! the worst case per input, into the security report; [`pool`] sums one model's reports on
//! several input samples, with intervals and goals. The suite computes results; writing
//! them is a separate step that takes the results and a directory.
//!
//! Every fallible function returns an [`AttackError`]; long attacks report their progress to a
//! [`Progress`](crate::progress::Progress) observer ([`Silent`](crate::progress::Silent) for
//! none).

pub mod adaptive;
pub mod chart_png;
pub mod compare;
mod error;
pub mod fgsm;
pub mod fooling;
mod iterative;
pub mod metrics;
pub mod mim;
pub mod objective;
pub mod pgd;
pub mod pool;
pub mod project;
pub mod report;
pub mod results;
pub mod sampling;
pub mod square;
pub mod suite;
pub mod tensor;
pub mod whitebox;

pub use error::AttackError;
pub use fgsm::{fgsm, fgsm_sweep};
pub use objective::EncoderLoss;
pub use project::Norm;
