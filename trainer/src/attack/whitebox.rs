//! The paper's white-box targeted attack (Eq. 10), and the optimiser it shares with the fooling
//! attack (Eq. 11):
//!
//! L_adv(η) = (||x₀+η − g(f(x₀+η))||² / τ_dec)^a + ((μ_t − f(x₀+η))ᵀ P_t (μ_t − f(x₀+η)) / τ_enc)^b
//!            + ||η||²,
//!
//! with P_t the detector's precision matrix of the target class (the paper's Σ_t), a, b > 1, η
//! initialised with zeros. The paper says "gradient descent"; we use Adam on η (stated in every
//! report) and keep x₀+η in [0, 1] (and, if asked, in an L∞ ball) after every step.

use super::metrics::{judge, Verdict};
use super::objective::{host, input_gradient, Objective};
use super::project::{project, Norm};
use super::tensor::{batches, check_inputs};
use super::AttackError;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{s, Array2, ArrayView2, Zip};
use serde::{Deserialize, Serialize};

/// Settings of the Eq. 10 / Eq. 11 optimisation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhiteboxOptions {
    /// Exponent a (> 1) of the reconstruction term.
    pub a: f32,
    /// Exponent b (> 1) of the Mahalanobis term.
    pub b: f32,
    /// Adam steps.
    pub steps: usize,
    /// Adam learning rate (pixels per step, roughly).
    pub lr: f32,
    /// Optional L∞ bound on η (the paper has none; Eq. 10 penalises ||η||² instead).
    pub eps: Option<f32>,
}

impl Default for WhiteboxOptions {
    fn default() -> Self {
        Self {
            a: 2.0,
            b: 2.0,
            steps: 100,
            lr: 0.01,
            eps: None,
        }
    }
}

/// What the optimisation produced for every (input, target) pair.
#[derive(Clone, Debug)]
pub struct Optimised {
    /// The final iterates, `(n, pixels)` (the paper's result).
    pub images: Array2<f32>,
    /// Per pair, the first iterate that the forward pass judged an attacker win (accepted and
    /// misclassified for Eq. 10, accepted as the target for Eq. 11), if any.
    pub retained: Vec<Option<Vec<f32>>>,
    /// Mean loss over all pairs after each step (index 0 = before the first step).
    pub loss_trace: Vec<f32>,
}

/// Eq. 10 for `images` (rows, true `labels`) pushed towards `targets`; `progress` advances by one
/// per image and step.
pub fn whitebox<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    targets: &[usize],
    options: &WhiteboxOptions,
    progress: &dyn Progress,
) -> Result<Optimised, AttackError> {
    check_inputs(model, images, Some(labels))?;
    minimise(model, images, Some(labels), targets, options, progress)
}

impl WhiteboxOptions {
    /// Checks the settings before any work: exponents of at least 1, a positive finite
    /// learning rate, at least one step, and a finite non-negative budget if one is set.
    pub fn validate(&self) -> Result<(), AttackError> {
        if !(self.a >= 1.0 && self.b >= 1.0 && self.a.is_finite() && self.b.is_finite()) {
            return Err(AttackError::InvalidExponents {
                a: self.a,
                b: self.b,
            });
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(AttackError::InvalidLearningRate { lr: self.lr });
        }
        if self.steps == 0 {
            return Err(AttackError::ZeroCount { setting: "steps" });
        }
        if let Some(eps) = self.eps {
            super::tensor::check_budget(eps)?;
        }
        Ok(())
    }
}

/// Minimises the Eq. 10 loss (with `labels`, i.e. a source class and the ||η||² term) or the
/// Eq. 11 loss (without) from `start`, for each row and its target class; `progress` advances
/// by one per image and step.
pub fn minimise<D: Device<f32>>(
    model: &TrainedModel<D>,
    start: ArrayView2<f32>,
    labels: Option<&[usize]>,
    targets: &[usize],
    options: &WhiteboxOptions,
    progress: &dyn Progress,
) -> Result<Optimised, AttackError> {
    check_inputs(model, start, Some(targets))?;
    options.validate()?;
    let objective = Objective::new(model);
    let cal = &model.calibration;
    let classes = model.network.config().classes;
    let n = start.nrows();
    let mut images = Array2::zeros(start.dim());
    let mut retained = vec![None; n];
    let mut trace = vec![0.0f32; options.steps + 1];
    for range in batches(n) {
        let x0 = start.slice(s![range.clone(), ..]);
        let t = &targets[range.clone()];
        let means = objective.class_means(t);
        let mut x = x0.to_owned();
        let mut adam = AdamState::new(x.dim());
        for (step, mean_loss) in trace.iter_mut().enumerate() {
            let (grad, probe) = input_gradient(model.network.device(), x.view(), |xt, probe| {
                let z = objective.encode(xt.with_empty_tape());
                probe.latents = Some(host(&z));
                let rec = objective.reconstruction_error(xt.with_empty_tape(), z.with_empty_tape());
                probe.reconstruction_errors = Some(rec.as_vec());
                let maha = objective.mahalanobis_sq(z, means.view(), t);
                let loss = (rec * (1.0 / cal.tau_dec)).powf(options.a)
                    + (maha * (1.0 / cal.tau_enc)).powf(options.b);
                match labels {
                    Some(_) => {
                        let x0_dev = super::tensor::to_device(model.network.device(), x0);
                        loss + (xt - x0_dev).square().sum::<_, Axis<0>>()
                    }
                    None => {
                        drop(xt);
                        loss
                    }
                }
            });
            *mean_loss += probe.loss.iter().sum::<f32>() / n as f32;
            if let (Some(z), Some(rec)) = (&probe.latents, &probe.reconstruction_errors) {
                for (i, slot) in retained[range.clone()].iter_mut().enumerate() {
                    let verdict = judge(cal, classes, z.row(i), rec[i]);
                    if slot.is_none() && wins(verdict, labels.map(|l| l[range.start + i]), t[i]) {
                        *slot = Some(x.row(i).to_vec());
                    }
                }
            }
            if step == options.steps {
                break;
            }
            adam.step(&mut x, grad.view(), options.lr);
            match options.eps {
                Some(eps) => project(&mut x, x0, Norm::Linf, eps),
                None => x.mapv_inplace(|v| v.clamp(0.0, 1.0)),
            }
            progress.advance(t.len() as u64);
        }
        images.slice_mut(s![range, ..]).assign(&x);
    }
    Ok(Optimised {
        images,
        retained,
        loss_trace: trace,
    })
}

/// Whether a verdict is an attacker win: accepted and not the source class (Eq. 10), or
/// accepted as the target class (Eq. 11, no source).
pub fn wins(verdict: Verdict, source: Option<usize>, target: usize) -> bool {
    verdict.accepted
        && match source {
            Some(source) => verdict.prediction != source,
            None => verdict.prediction == target,
        }
}

/// Adam (β₁ = 0.9, β₂ = 0.999) on the input pixels, descending.
struct AdamState {
    m: Array2<f32>,
    v: Array2<f32>,
    t: i32,
}

impl AdamState {
    fn new(dim: (usize, usize)) -> Self {
        Self {
            m: Array2::zeros(dim),
            v: Array2::zeros(dim),
            t: 0,
        }
    }

    fn step(&mut self, x: &mut Array2<f32>, grad: ArrayView2<f32>, lr: f32) {
        let (b1, b2) = (0.9f32, 0.999f32);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        Zip::from(x)
            .and(&mut self.m)
            .and(&mut self.v)
            .and(&grad)
            .for_each(|x, m, v, &g| {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *x -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
            });
    }
}
