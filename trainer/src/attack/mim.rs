//! The Momentum Iterative Method (Dong et al. 2018) against the encoder alone, as CleverHans
//! implements it: g ← μ·g + ∇/mean|∇|, x ← Π(x + α·sign(g)).

use super::iterative::{ascend_encoder, Ascent};
use super::objective::EncoderLoss;
use super::project::Norm;
use super::AttackError;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2, Zip};
use serde::{Deserialize, Serialize};

/// Settings of one MIM run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MimOptions {
    /// The norm of the ball.
    pub norm: Norm,
    /// Radius ε.
    pub eps: f32,
    /// Step size α (capped at ε).
    pub step: f32,
    /// Number of steps.
    pub steps: usize,
    /// Momentum decay μ.
    pub decay: f32,
    /// The class loss.
    pub loss: EncoderLoss,
}

impl MimOptions {
    /// CleverHans' `MomentumIterativeMethod` defaults: L∞, ε = 0.3, `eps_iter` = 0.06,
    /// `nb_iter` = 10, `decay_factor` = 1.
    pub fn cleverhans() -> Self {
        Self {
            norm: Norm::Linf,
            eps: 0.3,
            step: 0.06,
            steps: 10,
            decay: 1.0,
            loss: EncoderLoss::default(),
        }
    }
}

/// MIM adversarial images for `images` with true `labels`; `progress` advances by one per image
/// and step.
pub fn mim<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    options: &MimOptions,
    progress: &dyn Progress,
) -> Result<Array2<f32>, AttackError> {
    let ascent = Ascent {
        norm: options.norm,
        eps: options.eps,
        step: options.step,
        steps: options.steps,
        loss: options.loss,
    };
    let decay = options.decay;
    let momentum = || {
        let mut momentum: Option<Array2<f32>> = None;
        move |grad: Array2<f32>| {
            let m = momentum.get_or_insert_with(|| Array2::zeros(grad.dim()));
            for (mut m, g) in m.rows_mut().into_iter().zip(grad.rows()) {
                let scale = g.iter().map(|v| v.abs()).sum::<f32>() / g.len().max(1) as f32;
                let scale = scale.max(1e-12);
                Zip::from(&mut m)
                    .and(&g)
                    .for_each(|m, &g| *m = decay * *m + g / scale);
            }
            m.clone()
        }
    };
    ascend_encoder(
        model,
        images,
        labels,
        ascent,
        progress,
        |x| x.to_owned(),
        momentum,
    )
}
