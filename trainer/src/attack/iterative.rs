//! The loop PGD and MIM share: from a start inside the ε-ball, repeat
//! x ← Π(x + α·dir(∇ₓ CE(f(x), y))), batch by batch, with the direction chosen per attack.

use super::objective::{input_gradient, EncoderLoss, Objective};
use super::project::{ascend, project, Norm};
use super::tensor::{batches, check_budget, check_inputs};
use super::AttackError;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{s, Array2, ArrayView2};

/// The ball and the steps of an iterative attack on the encoder.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ascent {
    /// The norm of the ball.
    pub norm: Norm,
    /// Radius ε.
    pub eps: f32,
    /// Step size α (capped at ε).
    pub step: f32,
    /// Number of steps.
    pub steps: usize,
    /// The class loss.
    pub loss: EncoderLoss,
}

/// Runs `ascent` on `images` with true `labels`. Each batch starts at `start(clean)` and gets
/// a fresh `direction()` (a closure that turns each gradient into the step direction, with any
/// state it keeps, such as momentum); `progress` advances by one per image and step.
pub(super) fn ascend_encoder<D, S, M, F>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    ascent: Ascent,
    progress: &dyn Progress,
    mut start: S,
    mut direction: M,
) -> Result<Array2<f32>, AttackError>
where
    D: Device<f32>,
    S: FnMut(ArrayView2<f32>) -> Array2<f32>,
    M: FnMut() -> F,
    F: FnMut(Array2<f32>) -> Array2<f32>,
{
    check_inputs(model, images, Some(labels))?;
    check_budget(ascent.eps)?;
    if ascent.step.is_nan() || ascent.step < 0.0 {
        return Err(AttackError::InvalidStepSize { step: ascent.step });
    }
    let objective = Objective::new(model);
    let step = ascent.step.min(ascent.eps);
    let mut out = Array2::zeros(images.dim());
    for range in batches(images.nrows()) {
        let clean = images.slice(s![range.clone(), ..]);
        let y = &labels[range.clone()];
        let mut adv = start(clean);
        let mut dir = direction();
        for _ in 0..ascent.steps {
            let (grad, _) = input_gradient(model.network.device(), adv.view(), |x, _| {
                objective.cross_entropy(objective.encode(x), y, ascent.loss)
            });
            let d = dir(grad);
            ascend(&mut adv, d.view(), ascent.norm, step);
            project(&mut adv, clean, ascent.norm, ascent.eps);
            progress.advance(y.len() as u64);
        }
        out.slice_mut(s![range, ..]).assign(&adv);
    }
    Ok(out)
}
