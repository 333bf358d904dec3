//! Projected Gradient Descent (Madry et al. 2018) against the encoder alone, L∞ or L2, with a
//! random start in the ε-ball: repeat x ← Π(x + α·dir(∇ₓ CE(f(x), y))).

use super::iterative::{ascend_encoder, Ascent};
use super::objective::EncoderLoss;
use super::project::{random_start, Norm};
use super::AttackError;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Settings of one PGD run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PgdOptions {
    /// The norm of the ball.
    pub norm: Norm,
    /// Radius ε of the ball.
    pub eps: f32,
    /// Step size α (capped at ε).
    pub step: f32,
    /// Number of steps.
    pub steps: usize,
    /// Start from a uniformly random point of the ball instead of the clean image.
    pub random_start: bool,
    /// Seed of the random start.
    pub seed: u64,
    /// The class loss.
    pub loss: EncoderLoss,
}

impl PgdOptions {
    /// CleverHans 3's `ProjectedGradientDescent` defaults: L∞, ε = 0.3, `eps_iter` = 0.05,
    /// `nb_iter` = 10, `rand_init` uniform in ±ε (we also clip to [0, 1], which CleverHans
    /// leaves to `clip_min`/`clip_max`).
    pub fn cleverhans() -> Self {
        Self {
            norm: Norm::Linf,
            eps: 0.3,
            step: 0.05,
            steps: 10,
            random_start: true,
            seed: 2019,
            loss: EncoderLoss::default(),
        }
    }

    /// CleverHans 2's `MadryEtAl` defaults (ε = 0.3, `eps_iter` = 0.01, `nb_iter` = 40, random
    /// start): the version current when the paper was written.
    pub fn madry() -> Self {
        Self {
            step: 0.01,
            steps: 40,
            ..Self::cleverhans()
        }
    }

    /// An L2 attack of comparable strength on MNIST: ε = 2, 40 steps of α = 0.125 (2.5·ε/steps).
    pub fn l2() -> Self {
        Self {
            norm: Norm::L2,
            eps: 2.0,
            step: 0.125,
            steps: 40,
            ..Self::cleverhans()
        }
    }
}

/// PGD adversarial images for `images` with true `labels`; `progress` advances by one per image
/// and step.
pub fn pgd<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    options: &PgdOptions,
    progress: &dyn Progress,
) -> Result<Array2<f32>, AttackError> {
    let ascent = Ascent {
        norm: options.norm,
        eps: options.eps,
        step: options.step,
        steps: options.steps,
        loss: options.loss,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let start = |clean: ArrayView2<f32>| {
        if options.random_start {
            random_start(clean, options.norm, options.eps, &mut rng)
        } else {
            clean.to_owned()
        }
    };
    ascend_encoder(model, images, labels, ascent, progress, start, || |g| g)
}
