//! The Square attack (Andriushchenko et al. 2020), L∞: a gradient-free random search that
//! only queries the deployed model's scores, to rule out gradient masking. Its loss is the
//! adaptive attack's, read off forward passes:
//!
//! L = relu(z_y − z_k* + κ) + relu(ln(d²_k*/τ_enc) − ln(1−m)) + relu(ln(e/τ_dec) − ln(1−m))
//!
//! with k* the strongest wrong class, d²_k* the squared Mahalanobis distance of f(x) to its
//! mean under its precision and e the reconstruction error; L = 0 exactly when the input is
//! accepted as k* with margins. From vertical stripes of ±ε, each query redraws one square of
//! the perturbation (side shrinking on the paper's schedule) to ±ε per channel and keeps it
//! when the loss falls. An input counts as broken at the first accepted-and-wrong query.

use super::metrics::judge;
use super::tensor::{check_budget, check_inputs, BATCH};
use super::AttackError;
use crate::infer;
use crate::progress::Progress;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The most queries per input accepted.
pub const MAX_QUERIES: usize = 100_000;

/// Settings of the Square attack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SquareOptions {
    /// L∞ budgets.
    pub eps: Vec<f32>,
    /// Queries (forward passes) per input after the initial stripes.
    pub queries: usize,
    /// Initial share of the pixels a square covers (the paper's p_init; 0.05 for MNIST).
    pub p_init: f32,
    /// Hinge margin m on both thresholds.
    pub margin: f32,
    /// Class margin κ.
    pub kappa: f32,
    /// Seed of the random search.
    pub seed: u64,
}

impl Default for SquareOptions {
    fn default() -> Self {
        Self {
            eps: vec![0.1, 0.2, 0.3],
            queries: 1000,
            p_init: 0.05,
            margin: 0.1,
            kappa: 0.1,
            seed: 2019,
        }
    }
}

impl SquareOptions {
    /// Checks the settings before any work.
    pub fn validate(&self) -> Result<(), AttackError> {
        if self.queries == 0 || self.queries > MAX_QUERIES {
            return Err(AttackError::ZeroCount { setting: "queries" });
        }
        if !(self.p_init > 0.0 && self.p_init <= 1.0) {
            return Err(AttackError::ZeroCount { setting: "p_init" });
        }
        for &e in &self.eps {
            check_budget(e)?;
        }
        Ok(())
    }
}

/// The share of pixels the square covers at query `i` of `n` (the paper's schedule, scaled
/// to `n` queries as if they were 10,000): p_init halved at 10, 50, 200, 500, 1000, 2000,
/// 4000, 6000 and 8000.
pub fn square_share(p_init: f32, i: usize, n: usize) -> f32 {
    let scaled = (i as f64 * 10_000.0 / n.max(1) as f64) as usize;
    let halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000]
        .iter()
        .filter(|&&at| scaled > at)
        .count();
    p_init / (1u32 << halvings) as f32
}

/// Per budget: the images (the first winning query, else the lowest-loss one) and whether
/// each input was broken.
#[derive(Clone, Debug)]
pub struct SquareEps {
    /// The budget.
    pub eps: f32,
    /// Per input, `(n, pixels)`.
    pub images: Array2<f32>,
    /// Per input: broken (accepted and misclassified) at some query.
    pub broken: Vec<bool>,
}

/// Runs the Square attack on `images` with true `labels` at every budget; `progress`
/// advances by one per input and budget.
pub fn square<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    labels: &[usize],
    options: &SquareOptions,
    progress: &dyn Progress,
) -> Result<Vec<SquareEps>, AttackError> {
    check_inputs(model, images, Some(labels))?;
    options.validate()?;
    let mut eps = options.eps.clone();
    eps.sort_by(f32::total_cmp);
    let mut results = Vec::with_capacity(eps.len());
    for (k, &e) in eps.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(k as u64));
        let mut adv = images.to_owned();
        let mut broken = vec![false; images.nrows()];
        let rows: Vec<usize> = (0..images.nrows()).collect();
        for chunk in rows.chunks(BATCH) {
            let clean = images.select(Axis(0), chunk);
            let y: Vec<usize> = chunk.iter().map(|&i| labels[i]).collect();
            let (found, wins) = search(model, clean.view(), &y, e, options, &mut rng);
            for (r, &i) in chunk.iter().enumerate() {
                adv.row_mut(i).assign(&found.row(r));
                broken[i] = wins[r];
            }
            progress.advance(chunk.len() as u64);
        }
        results.push(SquareEps {
            eps: e,
            images: adv,
            broken,
        });
    }
    Ok(results)
}

/// The random search on one batch.
fn search<D: Device<f32>>(
    model: &TrainedModel<D>,
    clean: ArrayView2<f32>,
    labels: &[usize],
    eps: f32,
    options: &SquareOptions,
    rng: &mut ChaCha8Rng,
) -> (Array2<f32>, Vec<bool>) {
    let c = model.network.config();
    let (channels, h, w) = (c.in_channels, c.height, c.width);
    let n = clean.nrows();
    // Vertical stripes: one random sign per channel and column.
    let mut delta = Array2::zeros(clean.dim());
    for r in 0..n {
        for ch in 0..channels {
            for col in 0..w {
                let s = if rng.gen::<bool>() { eps } else { -eps };
                for row in 0..h {
                    delta[[r, (ch * h + row) * w + col]] = s;
                }
            }
        }
    }
    let apply = |delta: &Array2<f32>| {
        let mut x = clean.to_owned();
        ndarray::Zip::from(&mut x)
            .and(delta)
            .for_each(|x, &d| *x = (*x + d).clamp(0.0, 1.0));
        x
    };
    let mut x = apply(&delta);
    let (mut loss, mut won) = losses(model, x.view(), labels, options);
    for i in 0..options.queries {
        if won.iter().all(|&b| b) {
            break;
        }
        let share = square_share(options.p_init, i, options.queries);
        let side = ((share * (h * w) as f32).sqrt().round() as usize).clamp(1, h.min(w));
        let mut candidate = delta.clone();
        for r in 0..n {
            if won[r] {
                continue;
            }
            let (top, left) = (rng.gen_range(0..=h - side), rng.gen_range(0..=w - side));
            for ch in 0..channels {
                let s = if rng.gen::<bool>() { eps } else { -eps };
                for row in top..top + side {
                    for col in left..left + side {
                        candidate[[r, (ch * h + row) * w + col]] = s;
                    }
                }
            }
        }
        let trial = apply(&candidate);
        let (trial_loss, trial_won) = losses(model, trial.view(), labels, options);
        for r in 0..n {
            if won[r] {
                continue;
            }
            if trial_won[r] || trial_loss[r] < loss[r] {
                loss[r] = trial_loss[r];
                won[r] = trial_won[r];
                delta.row_mut(r).assign(&candidate.row(r));
                x.row_mut(r).assign(&trial.row(r));
            }
        }
    }
    (x, won)
}

/// The loss of every row and whether the deployed model accepts it as a wrong class.
fn losses<D: Device<f32>>(
    model: &TrainedModel<D>,
    x: ArrayView2<f32>,
    labels: &[usize],
    options: &SquareOptions,
) -> (Vec<f32>, Vec<bool>) {
    let cal = &model.calibration;
    let classes = model.network.config().classes;
    let encoded = infer::encode_and_reconstruct(&model.network, &model.params, x);
    let hinge = (1.0 - options.margin.clamp(0.0, 0.99)).ln();
    let mut loss = Vec::with_capacity(x.nrows());
    let mut won = Vec::with_capacity(x.nrows());
    for (r, &y) in labels.iter().enumerate() {
        let z = encoded.latents.row(r);
        let rec = encoded.reconstruction_errors[r];
        let verdict = judge(cal, classes, z, rec);
        won.push(verdict.accepted && verdict.prediction != y);
        let wrong = (0..classes)
            .filter(|&k| k != y)
            .max_by(|&a, &b| z[a].total_cmp(&z[b]))
            .unwrap_or(0);
        let d2 = cal.mahalanobis_sq(z, wrong);
        let value = (z[y] - z[wrong] + options.kappa).max(0.0)
            + ((d2 / cal.tau_enc + 1e-6).ln() - hinge).max(0.0)
            + ((rec / cal.tau_dec + 1e-6).ln() - hinge).max(0.0);
        loss.push(if value.is_finite() { value } else { f32::MAX });
    }
    (loss, won)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_shrinks_on_the_papers_schedule() {
        assert_eq!(square_share(0.8, 0, 10_000), 0.8);
        assert_eq!(square_share(0.8, 11, 10_000), 0.4);
        assert_eq!(square_share(0.8, 9_999, 10_000), 0.8 / 512.0);
        // Scaled to 1,000 queries: the first halving after query 1.
        assert_eq!(square_share(0.8, 2, 1_000), 0.4);
    }
}
