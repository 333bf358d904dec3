//! Reclassification (paper §3.5) in the trainer: the runtime's algorithm — one Adam descent
//! of `‖x − g(z)‖²` per class mean, the best start wins, label = nearest mean of the winning
//! code, fooling rejection by the same thresholds as classification — with two engines that
//! conform to each other:
//!
//! * [`autograd`] — dfdx autograd through [`Network::decode`](crate::model::Network::decode),
//!   batched over samples × starts (the columns of the `[latent, batch]` code matrix); the
//!   reference, and the engine that runs on CUDA;
//! * [`engine`] — the `gmvae-runtime` crate itself (hand-written backward pass, bit
//!   deterministic), one sample per CPU thread.
//!
//! Both take [`gmvae_runtime::ReclassifySettings`] and return [`Outcome`]s. The Adam update is
//! the runtime's, in the same `f32` order (`runtime/NUMERICS.md`), applied on the host.
//! [`report`] turns outcomes into the paper's figures: recovered rejected clean samples and
//! Table 2 (FGSM). [`deployed`] is the decision with reclassification (classify, reclassify
//! what is rejected), and [`attack`] attacks that whole decision.

pub mod attack;
pub mod autograd;
pub mod deployed;
pub mod engine;
mod error;
pub mod experiment;
pub mod golden;
pub mod report;

pub use error::ReclassifyError;
pub use gmvae_runtime::ReclassifySettings;
use serde::{Deserialize, Serialize};

/// One sample's reclassification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The class mean nearest to the winning code.
    pub label: usize,
    /// The winning start (the class whose mean it began at).
    pub start: usize,
    /// The winning code `z*`.
    pub latent: Vec<f32>,
    /// `‖x − g(z*)‖²`.
    pub reconstruction_error: f32,
    /// Squared Mahalanobis distance of `z*` to the label's mean.
    pub mahalanobis_sq: f32,
    /// Each start's loss (its best iterate's).
    pub start_losses: Vec<f32>,
    /// Adam steps each start took.
    pub start_steps: Vec<u32>,
    /// Whether `z*` passes both thresholds.
    pub passes_thresholds: bool,
    /// The decision: `passes_thresholds`, or always `true` without fooling rejection.
    pub accepted: bool,
}

/// One Adam step in the runtime's order (`runtime/src/kernels/adam.rs`): `c1 = 1 − β1ᵗ`,
/// `c2 = 1 − β2ᵗ` with the powers kept as running `f32` products.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    s: &ReclassifySettings,
    c1: f32,
    c2: f32,
    z: &mut f32,
    g: f32,
    m: &mut f32,
    v: &mut f32,
) {
    let (w1, w2) = (1.0 - s.beta1, 1.0 - s.beta2);
    *m = (s.beta1 * *m) + (w1 * g);
    *v = (s.beta2 * *v) + (w2 * (g * g));
    *z -= (s.learning_rate * (*m / c1)) / ((*v / c2).sqrt() + s.epsilon);
}

/// Index of the class mean (one-hot `e_c`, zero-padded) nearest to `z`; ties go to the
/// lowest index.
pub fn nearest_class(z: &[f32], classes: usize) -> usize {
    let dist = |c: usize| -> f64 {
        z.iter()
            .enumerate()
            .map(|(j, &v)| (f64::from(v) - if j == c { 1.0 } else { 0.0 }).powi(2))
            .sum()
    };
    (0..classes)
        .map(|c| (c, dist(c)))
        .fold(
            (0, f64::INFINITY),
            |best, cur| if cur.1 < best.1 { cur } else { best },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_class_breaks_ties_low() {
        assert_eq!(nearest_class(&[0.1, 0.9, 0.0], 3), 1);
        assert_eq!(nearest_class(&[0.5, 0.5, 0.0], 3), 0);
        assert_eq!(nearest_class(&[0.0, 0.0, 0.0, 3.0], 3), 0);
    }

    #[test]
    fn adam_first_step_is_about_lr() {
        let s = ReclassifySettings::DEFAULT;
        let (mut z, mut m, mut v) = (1.0f32, 0.0, 0.0);
        adam_step(
            &s,
            1.0 - s.beta1,
            1.0 - s.beta2,
            &mut z,
            4.0,
            &mut m,
            &mut v,
        );
        assert!((z - (1.0 - s.learning_rate)).abs() < 1e-5);
    }
}
