//! The dfdx engine: the runtime's descent with dfdx autograd, batched over samples × starts.
//!
//! A batch of `n` samples holds `n · K` columns (column `i · K + c` is sample `i` started at
//! class `c`'s mean). Each iteration decodes every code with
//! [`Network::decode`](crate::model::Network::decode) on a traced leaf copy of the code
//! matrix, reads the per-column losses `Σ (g(z) − x)²`, and — where a column still needs a
//! step — takes ∂Σloss/∂z from the tape (columns do not interact, so column `b` of the
//! gradient is the gradient of loss `b`) and applies the runtime's Adam step on the host.
//! The parameters are constants: nothing but `z` is updated.

use super::{adam_step, nearest_class, Outcome, ReclassifyError, ReclassifySettings};
use crate::attack::tensor::to_device;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{s, ArrayView2};

/// Code-matrix columns (samples × starts) per batch.
pub const COLUMNS: usize = 500;

/// Reclassifies every row of `images` (`(n, pixels)`, values in [0, 1]).
pub fn reclassify<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    settings: &ReclassifySettings,
) -> Result<Vec<Outcome>, ReclassifyError> {
    settings.validate().map_err(ReclassifyError::Settings)?;
    let config = model.network.config();
    if images.ncols() != config.pixels() {
        return Err(ReclassifyError::ImageSize {
            found: images.ncols(),
            expected: config.pixels(),
        });
    }
    let per_batch = (COLUMNS / config.classes).max(1);
    let mut out = Vec::with_capacity(images.nrows());
    for start in (0..images.nrows()).step_by(per_batch) {
        let end = (start + per_batch).min(images.nrows());
        out.extend(batch(model, images.slice(s![start..end, ..]), settings));
    }
    // The runtime refuses a non-finite result (NonFiniteOutput); so does this engine.
    if let Some(index) = out.iter().position(|o| {
        !(o.reconstruction_error.is_finite()
            && o.mahalanobis_sq.is_finite()
            && o.latent.iter().all(|v| v.is_finite()))
    }) {
        return Err(ReclassifyError::NonFinite { index });
    }
    Ok(out)
}

/// Per-column descent state on the host (`[latent][columns]` matrices, as on the device).
struct State {
    cols: usize,
    z: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    best_z: Vec<f32>,
    best: Vec<f32>,
    previous: Vec<Option<f32>>,
    active: Vec<bool>,
    steps: Vec<u32>,
}

impl State {
    fn new(latent: usize, classes: usize, samples: usize) -> Self {
        let cols = classes * samples;
        // Column i·K + c starts at e_c.
        let z: Vec<f32> = (0..latent * cols)
            .map(|r| f32::from(r / cols == (r % cols) % classes))
            .collect();
        Self {
            cols,
            best_z: z.clone(),
            m: vec![0.0; z.len()],
            v: vec![0.0; z.len()],
            z,
            best: vec![f32::INFINITY; cols],
            previous: vec![None; cols],
            active: vec![true; cols],
            steps: vec![0; cols],
        }
    }

    /// Records the loss of column `b`'s current iterate; returns whether it takes a step.
    fn observe(&mut self, b: usize, loss: f32, last: bool, tol: f32) -> bool {
        if !self.active[b] {
            return false;
        }
        if !loss.is_finite() {
            self.active[b] = false;
            return false;
        }
        if loss < self.best[b] {
            self.best[b] = loss;
            for j in (b..self.z.len()).step_by(self.cols) {
                self.best_z[j] = self.z[j];
            }
        }
        let converged = self.previous[b].is_some_and(|p| tol > 0.0 && (p - loss).abs() <= tol * p);
        if last || converged {
            self.active[b] = false;
            return false;
        }
        self.previous[b] = Some(loss);
        true
    }
}

fn batch<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    s: &ReclassifySettings,
) -> Vec<Outcome> {
    let (net, dev) = (&model.network, model.network.device());
    let (latent, classes) = (net.config().latent, net.config().classes);
    let n = images.nrows();
    let mut st = State::new(latent, classes, n);
    // Column i·K + c holds image i.
    let repeated = images
        .rows()
        .into_iter()
        .flat_map(|row| std::iter::repeat_n(row, classes))
        .flat_map(|row| row.to_vec())
        .collect::<Vec<f32>>();
    let x = to_device(
        dev,
        ndarray::ArrayView2::from_shape((st.cols, images.ncols()), &repeated)
            .expect("one row per column"),
    );
    let (mut b1t, mut b2t) = (1.0f32, 1.0f32);
    for t in 0..=s.steps {
        if !st.active.iter().any(|&a| a) {
            break;
        }
        let z = dev.tensor_from_vec(st.z.clone(), (latent, st.cols));
        let traced = z.clone().traced(Gradients::leaky());
        let loss = (net.decode(&model.params, traced) - x.clone())
            .square()
            .sum::<_, Axis<0>>();
        let losses = loss.as_vec();
        let stepping: Vec<bool> = (0..st.cols)
            .map(|b| st.observe(b, losses[b], t == s.steps, s.early_stop_tolerance))
            .collect();
        if !stepping.iter().any(|&x| x) {
            continue;
        }
        let g = loss.sum().backward().get(&z).as_vec();
        b1t *= s.beta1;
        b2t *= s.beta2;
        let (cols, len) = (st.cols, st.z.len());
        for b in (0..cols).filter(|&b| stepping[b]) {
            let idx = move || (b..len).step_by(cols);
            if !idx().all(|j| g[j].is_finite()) {
                st.active[b] = false;
                continue;
            }
            for j in idx() {
                adam_step(
                    s,
                    1.0 - b1t,
                    1.0 - b2t,
                    &mut st.z[j],
                    g[j],
                    &mut st.m[j],
                    &mut st.v[j],
                );
            }
            if s.confine_to_class {
                confine(model, &mut st.z, b, classes, s.confine_fraction);
            }
            st.steps[b] += 1;
            if !idx().all(|j| st.z[j].is_finite()) {
                st.active[b] = false;
            }
        }
    }
    (0..n).map(|i| outcome(model, &st, i, classes, s)).collect()
}

/// Moves column `b`'s iterate just inside the acceptance ellipsoid of its start's class if it
/// lies outside (the runtime's `confine_to_class`): with
/// `t = (CONFINE_MARGIN · confine_fraction) · τ_enc`,
/// `z = μ + (z − μ) · sqrt(t / d²)`.
fn confine<D: Device<f32>>(
    model: &TrainedModel<D>,
    z: &mut [f32],
    b: usize,
    classes: usize,
    fraction: f32,
) {
    let cols = z.len() / model.network.config().latent;
    let class = b % classes;
    let column: Vec<f32> = z.iter().skip(b).step_by(cols).copied().collect();
    let d2 = model
        .calibration
        .mahalanobis_sq(ndarray::ArrayView1::from(&column), class);
    let tau = (gmvae_runtime::CONFINE_MARGIN * fraction) * model.calibration.tau_enc;
    if d2.is_finite() && d2 > tau {
        let scale = (tau / d2).sqrt();
        for (r, v) in z.iter_mut().skip(b).step_by(cols).enumerate() {
            let mu = f32::from(r == class);
            *v = mu + (*v - mu) * scale;
        }
    }
}

/// Sample `i`'s result from the finished columns `i·K .. (i + 1)·K`.
fn outcome<D: Device<f32>>(
    model: &TrainedModel<D>,
    st: &State,
    i: usize,
    classes: usize,
    s: &ReclassifySettings,
) -> Outcome {
    let cols = i * classes..(i + 1) * classes;
    let start_losses: Vec<f32> = st.best[cols.clone()].to_vec();
    let start = start_losses
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_finite())
        .fold(None::<(usize, f32)>, |best, (c, &l)| match best {
            Some((_, b)) if l >= b => best,
            _ => Some((c, l)),
        })
        .map_or(0, |(c, _)| c);
    let b = i * classes + start;
    let latent: Vec<f32> = (b..st.best_z.len())
        .step_by(st.cols)
        .map(|j| st.best_z[j])
        .collect();
    let label = nearest_class(&latent, classes);
    let reconstruction_error = start_losses[start];
    let mahalanobis_sq = model
        .calibration
        .mahalanobis_sq(ndarray::ArrayView1::from(&latent), label);
    let passes_thresholds = model
        .calibration
        .accepts(mahalanobis_sq, reconstruction_error);
    Outcome {
        label,
        start,
        latent,
        reconstruction_error,
        mahalanobis_sq,
        start_losses,
        start_steps: st.steps[cols].to_vec(),
        passes_thresholds,
        accepted: passes_thresholds || !s.reject_fooling,
    }
}

/// `‖g(z_b) − x_b‖²` and its gradient with respect to `z_b` for every row `b` of `latents`
/// (`(n, latent)`) against the row `b` of `images` (`(n, pixels)`): the quantities one step
/// of [`reclassify`] uses, for gradient checks. Returns `(losses, gradients (n, latent))`.
pub fn loss_and_gradient<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    latents: ArrayView2<f32>,
) -> (Vec<f32>, ndarray::Array2<f32>) {
    let dev = model.network.device();
    let x = to_device(dev, images);
    let z = to_device(dev, latents);
    let loss = (model
        .network
        .decode(&model.params, z.clone().traced(Gradients::leaky()))
        - x)
        .square()
        .sum::<_, Axis<0>>();
    let losses = loss.as_vec();
    let grads = loss.sum().backward();
    (losses, crate::attack::tensor::from_device(&grads.get(&z)))
}
