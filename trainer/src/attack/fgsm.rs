//! The Fast Gradient Sign Method (Goodfellow et al. 2015) against the encoder alone, the
//! setting of the paper's Figure 3: x' = clip₀¹(x + ε·sign(∇ₓ CE(f(x), y))).

use super::objective::{input_gradient, EncoderLoss, Objective};
use super::project::sign;
use super::tensor::{batches, check_budget, check_inputs};
use super::AttackError;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{s, Array2, ArrayView2, Zip};

/// FGSM adversarial images for `images` (`(n, pixels)`, values in [0, 1]) with true `labels`,
/// at L∞ budget `eps`, using the encoder-only class loss `loss`. Batched; deterministic.
///
/// ```no_run
/// # use gmvae_trainer::{attack::{fgsm, EncoderLoss}, trained::TrainedModel};
/// # fn demo(model: &TrainedModel<dfdx::prelude::Cpu>, x: ndarray::ArrayView2<f32>, y: &[usize]) -> Result<(), gmvae_trainer::attack::AttackError> {
/// let adversarial = fgsm(model, x, y, 0.1, EncoderLoss::default())?;
/// # Ok(()) }
/// ```
pub fn fgsm<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    eps: f32,
    loss: EncoderLoss,
) -> Result<Array2<f32>, AttackError> {
    check_inputs(model, images, Some(labels))?;
    check_budget(eps)?;
    let directions = gradient_signs(model, images, labels, loss);
    Ok(step(images, &directions, eps))
}

/// FGSM at every budget in `eps` (one gradient per image serves the whole sweep, since the
/// sign direction does not depend on ε); returns one `(n, pixels)` array per budget.
pub fn fgsm_sweep<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    eps: &[f32],
    loss: EncoderLoss,
) -> Result<Vec<Array2<f32>>, AttackError> {
    check_inputs(model, images, Some(labels))?;
    for &e in eps {
        check_budget(e)?;
    }
    let directions = gradient_signs(model, images, labels, loss);
    Ok(eps.iter().map(|&e| step(images, &directions, e)).collect())
}

/// clip₀¹(x + ε·d) for every image x and its sign direction d.
fn step(images: ArrayView2<f32>, directions: &Array2<f32>, eps: f32) -> Array2<f32> {
    let mut adv = images.to_owned();
    Zip::from(&mut adv)
        .and(directions)
        .for_each(|a, &d| *a = (*a + eps * d).clamp(0.0, 1.0));
    adv
}

/// sign(∇ₓ CE) for every image, `(n, pixels)`.
pub fn gradient_signs<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    loss: EncoderLoss,
) -> Array2<f32> {
    let objective = Objective::new(model);
    let mut out = Array2::zeros(images.dim());
    for range in batches(images.nrows()) {
        let y = &labels[range.clone()];
        let (grad, _) = input_gradient(
            model.network.device(),
            images.slice(s![range.clone(), ..]),
            |x, _| objective.cross_entropy(objective.encode(x), y, loss),
        );
        out.slice_mut(s![range, ..]).assign(&grad.mapv(sign));
    }
    out
}
