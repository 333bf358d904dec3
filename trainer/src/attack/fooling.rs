//! The paper's fooling attack (Eq. 11): start from uniform noise and minimise
//! (||x − g(f(x))||²/τ_dec)^a + ((μ_t − f(x))ᵀ P_t (μ_t − f(x))/τ_enc)^b over the image x
//! itself (no ||η||² term), keeping x in [0, 1]. The attacker wins when the result is accepted
//! and classified as the target.

use super::whitebox::{minimise, Optimised, WhiteboxOptions};
use super::AttackError;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` images of uniform noise in [0, 1] (seeded).
pub fn uniform_noise(n: usize, pixels: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, pixels), |_| rng.gen::<f32>())
}

/// Eq. 11 from each row of `noise` towards its entry of `targets`; `progress` advances by one
/// per image and step.
pub fn fooling<D: Device<f32>>(
    model: &TrainedModel<D>,
    noise: &Array2<f32>,
    targets: &[usize],
    options: &WhiteboxOptions,
    progress: &dyn Progress,
) -> Result<Optimised, AttackError> {
    minimise(model, noise.view(), None, targets, options, progress)
}
