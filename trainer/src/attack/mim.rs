//! The Momentum Iterative Method (Dong et al. 2018) against the encoder alone, as CleverHans
//! implements it: g ← μ·g + ∇/mean|∇|, x ← Π(x + α·sign(g)).

use super::objective::{input_gradient, EncoderLoss, Objective};
use super::project::{ascend, project, Norm};
use super::tensor::{batches, check_inputs};
use crate::trained::TrainedModel;
use anyhow::{ensure, Result};
use dfdx::prelude::*;
use indicatif::ProgressBar;
use ndarray::{s, Array2, ArrayView2, Zip};
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

/// MIM adversarial images for `images` with true `labels`.
pub fn mim<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    options: &MimOptions,
    bar: Option<&ProgressBar>,
) -> Result<Array2<f32>> {
    check_inputs(model, images, Some(labels))?;
    ensure!(
        options.eps.is_finite() && options.eps >= 0.0 && options.step >= 0.0,
        "ε and the step size must be non-negative"
    );
    let objective = Objective::new(model);
    let step = options.step.min(options.eps);
    let mut out = Array2::zeros(images.dim());
    for range in batches(images.nrows()) {
        let clean = images.slice(s![range.clone(), ..]);
        let y = &labels[range.clone()];
        let mut adv = clean.to_owned();
        let mut momentum = Array2::<f32>::zeros(clean.dim());
        for _ in 0..options.steps {
            let (grad, _) = input_gradient(model.network.device(), adv.view(), |x, _| {
                objective.cross_entropy(objective.encode(x), y, options.loss)
            });
            for (mut m, g) in momentum.rows_mut().into_iter().zip(grad.rows()) {
                let scale = g.iter().map(|v| v.abs()).sum::<f32>() / g.len().max(1) as f32;
                let scale = scale.max(1e-12);
                Zip::from(&mut m)
                    .and(&g)
                    .for_each(|m, &g| *m = options.decay * *m + g / scale);
            }
            ascend(&mut adv, momentum.view(), options.norm, step);
            project(&mut adv, clean, options.norm, options.eps);
            if let Some(bar) = bar {
                bar.inc(y.len() as u64);
            }
        }
        out.slice_mut(s![range, ..]).assign(&adv);
    }
    Ok(out)
}
