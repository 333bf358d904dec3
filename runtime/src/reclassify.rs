//! Reclassification (paper §3.5): find the latent code whose decoding best explains an input,
//! by gradient descent on `L(z) = Σ (x − g(z))²` through the decoder alone, started once from
//! every class mean; the winning code's nearest class mean is the label.
//!
//! # The algorithm
//!
//! For every class `c` in ascending order (a *start*):
//!
//! 1. `z₀ = μ_c`; Adam moments `m = v = 0`.
//! 2. For `t = 0, 1, …, steps`: decode `z_t` and compute `L_t` (the forward pass saves the
//!    decoder's activations). Keep `z_t` as the start's best if `L_t` is strictly smaller
//!    than every earlier loss of this start. Stop after `t = steps`, or early (below).
//!    Otherwise backpropagate `∂L/∂z` through the decoder (hand-written, into the workspace)
//!    and take one Adam step (`kernels::adam`).
//! 3. The start's result is its best iterate and that iterate's loss.
//!
//! The starts take their steps in lockstep, as many at a time as the caller's workspace
//! holds (`crate::lockstep`): the wide dense layer then reads its weights once per step for
//! all of them. That only changes the speed; each start computes exactly what it would alone.
//!
//! The start with the smallest loss wins (ties to the lowest class). Its code `z*` gets
//! `label = argmin_c ‖z* − μ_c‖` (as in classify), its squared Mahalanobis distance to that
//! mean, and `reconstruction_error = L(z*)`; the same two thresholds as
//! [`Model::classify`] then say whether `x` is a fooling input. With
//! [`ReclassifySettings::reject_fooling`] off (paper: "if this network is deployed in a
//! scenario where fooling samples are not expected … one can choose not to reject samples
//! during reclassification"), the result is always accepted.
//!
//! With [`ReclassifySettings::confine_to_class`] (our extension, off by default), each start
//! is a projected search: after every Adam step an iterate whose squared Mahalanobis distance
//! to its start's mean exceeds `f · τ_enc` (`f` = [`ReclassifySettings::confine_fraction`],
//! `1` by default: the acceptance ellipsoid) is pulled back along the line to that mean onto
//! the ellipsoid `d² = f · τ_enc` (a hair inside: [`CONFINE_MARGIN`]). Every start then explains the
//! input with a code its own class would accept, instead of drifting to where the decoder
//! draws whatever fits a perturbation; on the demo model this recovers more rejected clean
//! and FGSM inputs (BENCHMARKS.md). Its winners pass the latent test by construction (when
//! the label is the start's class), so the fooling-input verdict then rests on the
//! reconstruction threshold.
//!
//! A start also stops when its loss or gradient stops being finite, and — if
//! [`ReclassifySettings::early_stop_tolerance`] is positive — when `|L_{t−1} − L_t| ≤
//! tol · L_{t−1}` (checked before the backward pass of step `t`). Everything is a fixed
//! function of the model bytes, the image and the settings, so early stopping is as
//! deterministic as the rest.
//!
//! # Why Adam
//!
//! `L` is a *sum* over every pixel, so the size of `∂L/∂z` scales with the image size, the
//! decoder's weights and how far `g(z)` is from `x`: a plain gradient-descent step size that
//! is stable for one model (or one input) crawls or diverges on another. Adam divides each
//! coordinate's step by a running estimate of its gradient's magnitude, so its step size is a
//! distance in latent units — comparable with the one-hot class means, which are `√2` apart —
//! and one default serves every model. It costs two extra latent-sized vectors and one
//! square root per coordinate and step, nothing next to the decoder's passes.

use crate::error::Error;
use crate::forward::spans;
use crate::kernels::mahalanobis::mahalanobis_sq;
use crate::kernels::nearest_mean::nearest_mean;
use crate::layout::Bank;
use crate::model::Model;
use crate::workspace::take;
use crate::{Decision, Latent, MAX_LATENT};

/// Largest class count the runtime supports (the file format's limit; the size of
/// [`StartValues`]).
pub const MAX_CLASSES: usize = 128;

/// Where [`ReclassifySettings::confine_to_class`] puts an iterate that left its ellipsoid:
/// at `d² = 0.999 · τ_enc`, a hair inside, so that rounding in any implementation of the
/// distance still finds it accepted.
pub const CONFINE_MARGIN: f32 = 0.999;

/// One value per start (per class), stored inline.
pub type StartValues<T> = heapless::Vec<T, MAX_CLASSES>;

/// How [`Model::reclassify`] searches the latent space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReclassifySettings {
    /// Adam steps per start (the loss is evaluated `steps + 1` times). `0` evaluates the
    /// class means only.
    pub steps: u32,
    /// Adam step size `lr`, in latent units; finite, `> 0`.
    pub learning_rate: f32,
    /// Adam `β1`, in `[0, 1)`.
    pub beta1: f32,
    /// Adam `β2`, in `[0, 1)`.
    pub beta2: f32,
    /// Adam `ε`; finite, `> 0`.
    pub epsilon: f32,
    /// Early stopping: a start stops once `|L_{t−1} − L_t| ≤ tol · L_{t−1}`. `0` never stops
    /// early; finite, `≥ 0`.
    pub early_stop_tolerance: f32,
    /// Reject the result as a fooling input when it fails a threshold (paper §3.5). Off:
    /// every result is accepted (more coverage where fooling inputs are not expected).
    pub reject_fooling: bool,
    /// Keep every start inside its class's acceptance ellipsoid `d²(z, μ_c) ≤ τ_enc` (an
    /// extension of the paper, off by default): after each Adam step, an iterate outside is
    /// moved along the line to its start's mean onto the boundary (module documentation).
    pub confine_to_class: bool,
    /// The confining ellipsoid is `d² ≤ confine_fraction · τ_enc`; finite, in `(0, 1]`.
    /// Only read with [`ReclassifySettings::confine_to_class`].
    pub confine_fraction: f32,
}

impl ReclassifySettings {
    /// The defaults: 50 steps, `lr = 0.05`, `β1 = 0.9`, `β2 = 0.999`, `ε = 1e-8`, no early
    /// stopping, fooling rejection on, no confinement (the paper's search; were it on, the
    /// whole acceptance ellipsoid).
    pub const DEFAULT: Self = Self {
        steps: 50,
        learning_rate: 0.05,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        early_stop_tolerance: 0.0,
        reject_fooling: true,
        confine_to_class: false,
        confine_fraction: 1.0,
    };

    /// Checks every field's range; the error names the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |v: f32| v.is_finite() && v > 0.0;
        let unit = |v: f32| (0.0..1.0).contains(&v);
        let checks = [
            ("learning_rate", positive(self.learning_rate)),
            ("beta1", unit(self.beta1)),
            ("beta2", unit(self.beta2)),
            ("epsilon", positive(self.epsilon)),
            (
                "early_stop_tolerance",
                self.early_stop_tolerance.is_finite() && self.early_stop_tolerance >= 0.0,
            ),
            (
                "confine_fraction",
                self.confine_fraction > 0.0 && self.confine_fraction <= 1.0,
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some(&(name, _)) => Err(Error::InvalidSetting { name }),
            None => Ok(()),
        }
    }
}

impl Default for ReclassifySettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The result of [`Model::reclassify`].
#[derive(Clone, Debug, PartialEq)]
pub struct Reclassified {
    /// The class mean nearest to [`Reclassified::latent`] (ties to the lowest index).
    pub label: usize,
    /// The winning start (the class whose mean it started from).
    pub start: usize,
    /// The winning latent code `z*`.
    pub latent: Latent,
    /// `L(z*) = Σ (x − g(z*))²` (the same lane sum as classify's reconstruction error).
    pub reconstruction_error: f32,
    /// Squared Mahalanobis distance of `z*` to the label's mean under its precision matrix.
    pub mahalanobis_sq: f32,
    /// Each start's loss: that of its best iterate (`+∞` if no iterate had a finite loss).
    pub start_losses: StartValues<f32>,
    /// Adam steps each start took (fewer than `steps` when it stopped early).
    pub start_steps: StartValues<u32>,
    /// What the thresholds say about `z*` (`mahalanobis_sq ≤ tau_enc` and
    /// `reconstruction_error ≤ tau_dec`), whatever `reject_fooling` is.
    pub threshold_test: Decision,
    /// The decision: [`Reclassified::threshold_test`] with `reject_fooling`, else always
    /// [`Decision::Accepted`].
    pub decision: Decision,
}

impl Model<'_> {
    /// Reclassifies an image by latent-space search through the decoder (module
    /// documentation of `reclassify`; `NUMERICS.md` for the arithmetic).
    ///
    /// `ws` is any `&mut [f32]` of at least [`WorkspaceSizes::reclassify`] values. The starts
    /// run in groups of as many as it holds (each one more takes
    /// [`WorkspaceSizes::reclassify_per_start`]; [`WorkspaceSizes::reclassify_lockstep`] runs
    /// all of them at once, the fastest); the result does not depend on it.
    ///
    /// Errors: [`Error::WorkspaceTooSmall`] (shorter than [`WorkspaceSizes::reclassify`]),
    /// [`Error::InvalidSetting`], the image checks of [`Model::classify`], and
    /// [`Error::NonFiniteOutput`] if no start reaches a finite loss or the winner's distance
    /// is not finite.
    ///
    /// [`WorkspaceSizes::reclassify`]: crate::WorkspaceSizes::reclassify
    /// [`WorkspaceSizes::reclassify_per_start`]: crate::WorkspaceSizes::reclassify_per_start
    /// [`WorkspaceSizes::reclassify_lockstep`]: crate::WorkspaceSizes::reclassify_lockstep
    pub fn reclassify(
        &self,
        image: &[f32],
        ws: &mut [f32],
        settings: &ReclassifySettings,
    ) -> Result<Reclassified, Error> {
        let l = *self.layout();
        let width = self.lockstep_width(ws.len())?;
        let ws = take(ws, l.rc.len_for(width))?;
        settings.validate()?;
        self.check_image(image)?;
        self.prepare_backward(ws)?;

        let mut start_losses = StartValues::new();
        let mut start_steps = StartValues::new();
        let mut winner: Option<(usize, f32)> = None;
        for first in (0..l.dims.classes).step_by(width) {
            let bank = Bank::new(&l, width.min(l.dims.classes - first)).ok_or(Error::Internal)?;
            let starts = self.descend_lockstep(image, ws, &bank, first, settings)?;
            for (k, start) in starts.iter().enumerate() {
                start_losses.push(start.loss).map_err(|_| Error::Internal)?;
                start_steps.push(start.steps).map_err(|_| Error::Internal)?;
                if start.loss.is_finite() && winner.is_none_or(|(_, best)| start.loss < best) {
                    winner = Some((first + k, start.loss));
                    let [best, win] = spans(ws, [bank.row(bank.z_best, k), l.rc.z_win])?;
                    win.copy_from_slice(best);
                }
            }
        }
        let (start, reconstruction_error) = winner.ok_or(Error::NonFiniteOutput)?;

        let z = ws.get(l.rc.z_win.range()).ok_or(Error::Internal)?;
        let latent = Latent::from_slice(z).map_err(|()| Error::LatentTooWide {
            latent: z.len(),
            max: MAX_LATENT,
        })?;
        let (label, _) = nearest_mean(&latent, self.view().class_means().words())?;
        let mu = self.view().class_mean(label).ok_or(Error::Internal)?;
        let precision = self.view().precision(label).ok_or(Error::Internal)?;
        let mahalanobis_sq = mahalanobis_sq(&latent, mu.words(), precision.words())?;
        if !mahalanobis_sq.is_finite() {
            return Err(Error::NonFiniteOutput);
        }
        let threshold_test = self.threshold_test(mahalanobis_sq, reconstruction_error);
        let decision = if settings.reject_fooling {
            threshold_test
        } else {
            Decision::Accepted
        };
        Ok(Reclassified {
            label,
            start,
            latent,
            reconstruction_error,
            mahalanobis_sq,
            start_losses,
            start_steps,
            threshold_test,
            decision,
        })
    }

    /// How many starts run in lockstep with a workspace of `capacity` `f32`s.
    fn lockstep_width(&self, capacity: usize) -> Result<usize, Error> {
        let l = self.layout();
        let needed = l.rc.len_for(1);
        if capacity < needed {
            return Err(Error::WorkspaceTooSmall {
                needed,
                available: capacity,
            });
        }
        let fit = (capacity - l.rc.len) / l.rc.stride.max(1);
        Ok(fit.clamp(1, l.dims.classes.max(1)))
    }

    /// `L(z) = Σ (x − g(z))²` and its gradient `∂L/∂z` (written to `grad`), computed exactly
    /// as one step of [`Model::reclassify`] computes them.
    ///
    /// `ws` is any `&mut [f32]` of at least [`WorkspaceSizes::reclassify`] values (only those
    /// are used).
    ///
    /// Errors: [`Error::WorkspaceTooSmall`], the image checks of [`Model::classify`],
    /// [`Error::LatentLength`], [`Error::NonFiniteLatent`], [`Error::OutputLength`] (for
    /// `grad`), and [`Error::NonFiniteOutput`] if the loss or the gradient is not finite.
    ///
    /// [`WorkspaceSizes::reclassify`]: crate::WorkspaceSizes::reclassify
    pub fn reconstruction_gradient(
        &self,
        image: &[f32],
        z: &[f32],
        ws: &mut [f32],
        grad: &mut [f32],
    ) -> Result<f32, Error> {
        let l = *self.layout();
        let ws = take(ws, l.rc.len_for(1))?;
        self.check_image(image)?;
        let latent = l.dims.latent;
        if z.len() != latent {
            return Err(Error::LatentLength {
                expected: latent,
                found: z.len(),
            });
        }
        if let Some(index) = z.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteLatent { index });
        }
        if grad.len() != latent {
            return Err(Error::OutputLength {
                expected: latent,
                found: grad.len(),
            });
        }
        self.prepare_backward(ws)?;
        let bank = Bank::new(&l, 1).ok_or(Error::Internal)?;
        let [z_row] = spans(ws, [bank.row(bank.z, 0)])?;
        z_row.copy_from_slice(z);
        let listed = self.start_fc1(ws, &bank, 0)?;
        self.lockstep_fc2(ws, &bank, &[Some(listed)])?;
        let loss = self.start_loss(image, ws, &bank, 0)?;
        self.start_conv_grads(image, ws, &bank, 0)?;
        self.lockstep_fc2_grad(ws, &bank, &[true])?;
        self.start_fc1_grad(ws, &bank, 0)?;
        grad.copy_from_slice(ws.get(l.rc.gz.range()).ok_or(Error::Internal)?);
        if !loss.is_finite() || !grad.iter().all(|g| g.is_finite()) {
            return Err(Error::NonFiniteOutput);
        }
        Ok(loss)
    }
}

impl Model<'_> {
    /// Moves `z` just inside class `class`'s confining ellipsoid if it lies outside: with
    /// `d² = d²(z, μ)` (the classify distance) above
    /// `t = (CONFINE_MARGIN · confine_fraction) · τ_enc`, `s = sqrtf(t / d²)` and
    /// `z_i = μ_i + (z_i − μ_i) · s`. A non-finite `d²` leaves `z` as it is (the search then
    /// stops on it).
    pub(crate) fn confine(&self, z: &mut [f32], class: usize, fraction: f32) -> Result<(), Error> {
        let mu = self.view().class_mean(class).ok_or(Error::Internal)?;
        let precision = self.view().precision(class).ok_or(Error::Internal)?;
        let d2 = mahalanobis_sq(z, mu.words(), precision.words())?;
        let tau = (CONFINE_MARGIN * fraction) * self.thresholds().tau_enc;
        if d2.is_finite() && d2 > tau {
            let scale = libm::sqrtf(tau / d2);
            for (z, m) in z.iter_mut().zip(mu.words()) {
                let m = f32::from_le_bytes(*m);
                *z = m + (*z - m) * scale;
            }
        }
        Ok(())
    }

    /// The thresholds' verdict on a distance and an error (as [`Model::classify`] decides).
    fn threshold_test(&self, mahalanobis_sq: f32, reconstruction_error: f32) -> Decision {
        let t = self.thresholds();
        let latent_ok = mahalanobis_sq <= t.tau_enc;
        let reconstruction_ok = reconstruction_error <= t.tau_dec;
        if latent_ok && reconstruction_ok {
            Decision::Accepted
        } else {
            Decision::Rejected {
                latent: !latent_ok,
                reconstruction: !reconstruction_ok,
            }
        }
    }
}
