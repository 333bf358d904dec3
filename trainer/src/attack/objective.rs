//! The differentiable pieces every attack is built from, on the dfdx tape: the encoder-only
//! class loss, the Mahalanobis term with the model's own precision matrices, the
//! reconstruction term, and a latent margin; plus [`input_gradient`], which runs one
//! forward/backward pass and returns ∂loss/∂x for a batch.

use super::tensor::{from_device, matrix, to_device};
use crate::model::network::GraphTape;
use crate::model::params::{Matrix, Vector};
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// The class loss of attacks that see the encoder alone: the cross-entropy of the
/// Gaussian-mixture posterior p(k | z) ∝ exp(−||z − μ_k||² / (2·T)) over the classes.
///
/// With one-hot class means, −||z − μ_k||²/(2T) = (z_k − (||z||² + 1)/2)/T, and the shift is
/// the same for every class, so the posterior is exactly `softmax(z_{0..K} / T)`: with T = 1
/// this is the cross-entropy CleverHans computes when it is handed the encoder and treats its
/// output as logits. The model's own variance T = s2 = 1/3000 is also available, but it
/// saturates the softmax in f32 (logit gaps of ~3000), so its gradient is exactly zero for
/// confidently classified inputs — gradient masking, not robustness — and it is not the
/// default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderLoss {
    /// Softmax temperature T of the posterior.
    pub temperature: f32,
}

impl Default for EncoderLoss {
    fn default() -> Self {
        Self { temperature: 1.0 }
    }
}

/// Constant device tensors that turn latent codes into the attack objectives of one model.
pub struct Objective<'m, D: Device<f32>> {
    model: &'m TrainedModel<D>,
    /// `[classes, latent]`: picks the class coordinates out of a (zero-padded) latent code.
    selection: Matrix<D>,
    /// `[classes·latent, latent]`: every class's Cholesky factor Lᵀ (P_k = L·Lᵀ), stacked, so
    /// that d² = ||Lᵀ(z − c)||² is a sum of squares (no f32 cancellation).
    factors: Matrix<D>,
}

impl<'m, D: Device<f32>> Objective<'m, D> {
    /// The objective pieces of `model` (uses its calibrated precision matrices).
    pub fn new(model: &'m TrainedModel<D>) -> Self {
        let dev = model.network.device();
        let (k, l) = (
            model.network.config().classes,
            model.network.config().latent,
        );
        let selection = (0..k * l)
            .map(|r| f32::from(r / l == r % l))
            .collect::<Vec<f32>>();
        let precisions = &model.calibration.precisions;
        let mut factors = Vec::with_capacity(k * l * l);
        for class in 0..k {
            let block: Vec<f64> = precisions[class * l * l..(class + 1) * l * l]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let lower = cholesky(&block, l);
            // Row i of Lᵀ is column i of L.
            factors.extend((0..l * l).map(|r| lower[(r % l) * l + r / l] as f32));
        }
        Self {
            model,
            selection: matrix(dev, selection, k, l),
            factors: matrix(dev, factors, k * l, l),
        }
    }

    /// The model.
    pub fn model(&self) -> &'m TrainedModel<D> {
        self.model
    }

    /// Encoder f: images `[pixels, n]` → latent codes `[latent, n]`.
    pub fn encode<T: GraphTape<D>>(&self, x: Matrix<D, T>) -> Matrix<D, T> {
        self.model.network.encode(&self.model.params, x)
    }

    /// Per-input cross-entropy of the mixture posterior (see [`EncoderLoss`]) against `labels`.
    pub fn cross_entropy<T: GraphTape<D>>(
        &self,
        z: Matrix<D, T>,
        labels: &[usize],
        loss: EncoderLoss,
    ) -> Vector<D, T> {
        let logits = self.class_coordinates(z) * (1.0 / loss.temperature);
        let log_p = logits.log_softmax::<Axis<0>>();
        let onehot = self.one_hot(labels);
        (log_p * onehot).sum::<_, Axis<0>>().negate()
    }

    /// Per-input max_{k ≠ t} z_k − z_t: negative exactly when the nearest class mean is the
    /// target `t` (with one-hot means, nearest mean = largest class coordinate).
    pub fn margin<T: GraphTape<D>>(&self, z: Matrix<D, T>, targets: &[usize]) -> Vector<D, T> {
        let zs = self.class_coordinates(z);
        let onehot = self.one_hot(targets);
        let target = (zs.with_empty_tape() * onehot.clone()).sum::<_, Axis<0>>();
        let others = (zs + onehot * -1.0e4).max::<_, Axis<0>>();
        others - target
    }

    /// Per-input squared Mahalanobis distance (z − c)ᵀ P_k (z − c) of each latent column to
    /// the row of `centres` with the precision matrix of class `classes[i]` — the detector's
    /// own statistic when `c` is the class mean.
    pub fn mahalanobis_sq<T: GraphTape<D>>(
        &self,
        z: Matrix<D, T>,
        centres: ArrayView2<f32>,
        classes: &[usize],
    ) -> Vector<D, T> {
        let (k, l) = self.sizes();
        let n = classes.len();
        let dev = self.model.network.device();
        let diff = z - to_device(dev, centres);
        let projected = self.factors.retaped::<T>().matmul(diff);
        let mask = (0..k * l * n)
            .map(|r| f32::from((r / n) / l == classes[r % n]))
            .collect();
        (projected.square() * matrix(dev, mask, k * l, n)).sum::<_, Axis<0>>()
    }

    /// Per-input reconstruction error ||x − g(z)||² (no decoder noise, as the detector).
    pub fn reconstruction_error<T: GraphTape<D>>(
        &self,
        x: Matrix<D, T>,
        z: Matrix<D, T>,
    ) -> Vector<D, T> {
        let g = self.model.network.decode(&self.model.params, z);
        (g - x).square().sum::<_, Axis<0>>()
    }

    /// The class means of `classes` as rows `(n, latent)`.
    pub fn class_means(&self, classes: &[usize]) -> Array2<f32> {
        let l = self.sizes().1;
        Array2::from_shape_fn((classes.len(), l), |(i, j)| f32::from(classes[i] == j))
    }

    fn class_coordinates<T: GraphTape<D>>(&self, z: Matrix<D, T>) -> Matrix<D, T> {
        self.selection.retaped::<T>().matmul(z)
    }

    /// `[classes, n]` one-hot columns.
    fn one_hot(&self, labels: &[usize]) -> Matrix<D> {
        let (k, _) = self.sizes();
        let n = labels.len();
        let values = (0..k * n)
            .map(|r| f32::from(labels[r % n] == r / n))
            .collect();
        matrix(self.model.network.device(), values, k, n)
    }

    fn sizes(&self) -> (usize, usize) {
        let c = self.model.network.config();
        (c.classes, c.latent)
    }
}

/// The lower Cholesky factor (row-major) of the symmetric positive-definite `n × n` matrix
/// `a`. A matrix that is not numerically positive definite gets a growing diagonal jitter
/// (it only steers gradients; every decision uses the detector's own f64 statistic).
fn cholesky(a: &[f64], n: usize) -> Vec<f64> {
    let scale = (0..n)
        .map(|i| a[i * n + i].abs())
        .fold(0.0, f64::max)
        .max(1e-30);
    let mut jitter = 0.0;
    loop {
        let mut l = vec![0.0; n * n];
        let mut ok = true;
        'outer: for i in 0..n {
            for j in 0..=i {
                let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
                if i == j {
                    let pivot = a[i * n + i] + jitter - s;
                    if !(pivot > 0.0 && pivot.is_finite()) {
                        ok = false;
                        break 'outer;
                    }
                    l[i * n + i] = pivot.sqrt();
                } else {
                    l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
                }
            }
        }
        if ok || jitter > scale {
            return l;
        }
        jitter = if jitter == 0.0 {
            1e-9 * scale
        } else {
            jitter * 10.0
        };
    }
}

/// Values read off the forward pass of [`input_gradient`], per input.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    /// The per-input loss.
    pub loss: Vec<f32>,
    /// f(x) as rows `(n, latent)`, if the objective recorded it.
    pub latents: Option<Array2<f32>>,
    /// ||x − g(f(x))||², if the objective recorded it.
    pub reconstruction_errors: Option<Vec<f32>>,
}

/// One forward/backward pass: `objective` maps the traced input `[pixels, n]` to a per-input
/// loss (and may record latents and reconstruction errors into the probe); returns ∂Σloss/∂x
/// as rows `(n, pixels)` — inputs do not interact, so row i is the gradient of loss i.
pub fn input_gradient<D, F>(dev: &D, images: ArrayView2<f32>, objective: F) -> (Array2<f32>, Probe)
where
    D: Device<f32>,
    F: FnOnce(Matrix<D, OwnedTape<f32, D>>, &mut Probe) -> Vector<D, OwnedTape<f32, D>>,
{
    let x = to_device(dev, images);
    let mut probe = Probe::default();
    let loss = objective(x.clone().traced(Gradients::leaky()), &mut probe);
    probe.loss = loss.as_vec();
    let grads = loss.sum().backward();
    (from_device(&grads.get(&x)), probe)
}

/// The host copy of a taped matrix, for probes.
pub fn host<D: Device<f32>, T>(m: &Matrix<D, T>) -> Array2<f32> {
    from_device(m)
}
