//! The objectives of the paper: Eq. 7 for labelled images, and for unlabelled ones (§3.3)
//! the reconstruction plus the mixture prior term of Eq. 3.

use crate::model::network::dense;
use crate::model::params::{Affine, Matrix};
use crate::model::{Network, Params};
use dfdx::prelude::*;

/// Per-batch loss terms, averaged over the batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossTerms {
    /// Mean of ||x − g(f(x)+ε)||².
    pub reconstruction: f32,
    /// Mean of ||f(x) − μ_y||² (of the labelled images of a semi-supervised batch).
    pub latent: f32,
    /// Mean of the mixture prior term [`mixture_prior`] of the unlabelled images (0 in
    /// supervised training).
    pub prior: f32,
    /// Mean of the learned-variance penalty [`supervised_learned_variance`] adds,
    /// `Σ_i (σ_i² − s2 − s2·ln(σ_i²/s2))` (0 with the paper's fixed variance).
    pub variance_penalty: f32,
    /// Mean over images and latent dimensions of the learned encoder variance σ_i² (0 with
    /// the paper's fixed variance).
    pub encoder_variance: f32,
    /// Mean of ||f(x') − μ_y||² of the perturbed images in adversarial training (0
    /// otherwise).
    pub adversarial_latent: f32,
    /// Mean of the total: reconstruction + α·latent, plus β·prior for unlabelled images,
    /// α·variance penalty with a learned variance, or w·α·adversarial latent in adversarial
    /// training.
    pub total: f32,
}

/// The weights of the loss terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    /// α, the weight of ||f(x) − μ_y||² for labelled images.
    pub alpha: f32,
    /// β, the weight of the mixture prior term for unlabelled images.
    pub prior: f32,
    /// The fixed encoder variance s2 (also the variance of every mixture component).
    pub s2: f32,
    /// w, the weight of the adversarial latent term relative to α (adversarial training).
    pub adversarial: f32,
}

/// Loss of Eq. 7 for a batch, `||x − g(f(x)+ε)||² + α·||f(x) − μ_y||²` averaged over the batch,
/// with the gradients of `weight` times it (a shard of a larger batch passes its share).
pub fn supervised<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    images: Matrix<D>,
    targets: Matrix<D>,
    noise: Matrix<D>,
    alpha: f32,
    weight: f32,
) -> (LossTerms, Gradients<f32, D>) {
    let z = network.encode(params, images.clone().traced(Gradients::leaky()));
    let latent = (z.with_empty_tape() - targets).square().sum::<_, Axis<0>>();
    let reconstruction = (network.decode(params, z + noise) - images)
        .square()
        .sum::<_, Axis<0>>();
    let (r, l) = (
        scalar(&reconstruction.retaped::<NoneTape>().mean()),
        scalar(&latent.retaped::<NoneTape>().mean()),
    );
    let loss = (reconstruction + latent * alpha).mean();
    let total = scalar(&loss.retaped::<NoneTape>());
    let grads = (loss * weight).backward();
    (
        LossTerms {
            reconstruction: r,
            latent: l,
            total,
            ..LossTerms::default()
        },
        grads,
    )
}

/// The outer loss of adversarial training ([`super::adversarial`]) for a batch: Eq. 7 on the
/// clean images plus the latent term of their perturbed copies `adversarial` towards their
/// `adversarial_targets` t (the class means μ_y, or the CCAT-like targets of
/// [`super::adversarial::latent_targets`]),
/// `||x − g(f(x)+ε)||² + α·||f(x) − μ_y||² + w·α·||f(x') − t||²`, averaged over the batch,
/// with the gradients of `weight` times it. The returned `adversarial_latent` is the mean of
/// `||f(x') − t||²`.
#[allow(clippy::too_many_arguments)]
pub fn supervised_adversarial<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    images: Matrix<D>,
    adversarial: Matrix<D>,
    targets: Matrix<D>,
    adversarial_targets: Matrix<D>,
    noise: Matrix<D>,
    alpha: f32,
    adversarial_weight: f32,
    weight: f32,
) -> (LossTerms, Gradients<f32, D>) {
    let z = network.encode(params, images.clone().traced(Gradients::leaky()));
    let latent = (z.with_empty_tape() - targets).square().sum::<_, Axis<0>>();
    let z_adv = network.encode(params, adversarial.traced(Gradients::leaky()));
    let latent_adv = (z_adv - adversarial_targets).square().sum::<_, Axis<0>>();
    let reconstruction = (network.decode(params, z + noise) - images)
        .square()
        .sum::<_, Axis<0>>();
    let (r, l, a) = (
        scalar(&reconstruction.retaped::<NoneTape>().mean()),
        scalar(&latent.retaped::<NoneTape>().mean()),
        scalar(&latent_adv.retaped::<NoneTape>().mean()),
    );
    let loss = (reconstruction + latent * alpha + latent_adv * (alpha * adversarial_weight)).mean();
    let total = scalar(&loss.retaped::<NoneTape>());
    let grads = (loss * weight).backward();
    (
        LossTerms {
            reconstruction: r,
            latent: l,
            adversarial_latent: a,
            total,
            ..LossTerms::default()
        },
        grads,
    )
}

/// The loss of the learned-variance ablation (§4, Figure 5) for a batch: the encoder also
/// outputs a log-variance `ln σ²(x)` (the `head` on its last hidden layer), the sample is
/// `z = f(x) + σ(x)⊙ε` with `ε ~ N(0, I)` (`unit_noise`), and the latent term is the whole
/// KL divergence of the standard VAE bound to the class component N(μ_y, s2·I) in the units
/// of Eq. 7 (times 2·s2):
///
/// `||x − g(z)||² + α·(||f(x) − μ_y||² + Σ_i (σ_i² − s2 − s2·ln(σ_i²/s2)))`
///
/// which is Eq. 7 exactly when every σ_i² = s2; the second sum is the entropy term the
/// paper's fixed variance removes. Averaged over the batch, with the gradients of `weight`
/// times it.
#[allow(clippy::too_many_arguments)]
pub fn supervised_learned_variance<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    head: &Affine<D>,
    images: Matrix<D>,
    targets: Matrix<D>,
    unit_noise: Matrix<D>,
    weights: &LossWeights,
    weight: f32,
) -> (LossTerms, Gradients<f32, D>) {
    let s2 = weights.s2;
    let hidden = network.encode_hidden(params, images.clone().traced(Gradients::leaky()));
    let mean = dense(&params.encoder.fc2, hidden.with_empty_tape());
    let log_variance = dense(head, hidden);
    let latent = (mean.with_empty_tape() - targets)
        .square()
        .sum::<_, Axis<0>>();
    let variance = log_variance.with_empty_tape().exp();
    let spread = (variance.with_empty_tape() - log_variance.with_empty_tape() * s2
        + (s2 * s2.ln() - s2))
        .sum::<_, Axis<0>>();
    let z = mean + (log_variance * 0.5).exp() * unit_noise;
    let reconstruction = (network.decode(params, z) - images)
        .square()
        .sum::<_, Axis<0>>();
    let (r, l, v, sigma) = (
        scalar(&reconstruction.retaped::<NoneTape>().mean()),
        scalar(&latent.retaped::<NoneTape>().mean()),
        scalar(&spread.retaped::<NoneTape>().mean()),
        scalar(&variance.retaped::<NoneTape>().mean()),
    );
    let loss = (reconstruction + (latent + spread) * weights.alpha).mean();
    let total = scalar(&loss.retaped::<NoneTape>());
    let grads = (loss * weight).backward();
    (
        LossTerms {
            reconstruction: r,
            latent: l,
            variance_penalty: v,
            encoder_variance: sigma,
            total,
            ..LossTerms::default()
        },
        grads,
    )
}

/// The semi-supervised loss of a batch whose columns are labelled where `labeled` (`[n]`) is 1
/// and unlabelled where it is 0: per image `||x − g(z)||² + m·α·||f(x) − μ_y||² +
/// (1 − m)·β·u(z)` with `z = f(x) + ε` and `u` the [`mixture_prior`], averaged over the
/// batch, with the gradients of `weight` times it. The returned latent and prior terms are
/// their sums over the labelled and unlabelled columns divided by `n` (the caller rescales
/// them to per-image means once the shards are combined).
#[allow(clippy::too_many_arguments)]
pub fn semi_supervised<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    images: Matrix<D>,
    targets: Matrix<D>,
    labeled: Tensor<(usize,), f32, D>,
    noise: Matrix<D>,
    weights: &LossWeights,
    weight: f32,
) -> (LossTerms, Gradients<f32, D>) {
    let classes = targets.shape().0.min(noise.shape().0);
    let z = network.encode(params, images.clone().traced(Gradients::leaky()));
    let latent = (z.with_empty_tape() - targets).square().sum::<_, Axis<0>>() * labeled.clone();
    let sample = z + noise;
    let unlabeled = labeled.negate() + 1.0;
    let prior = mixture_prior(sample.with_empty_tape(), classes, weights.s2) * unlabeled;
    let reconstruction = (network.decode(params, sample) - images)
        .square()
        .sum::<_, Axis<0>>();
    let (r, l, p) = (
        scalar(&reconstruction.retaped::<NoneTape>().mean()),
        scalar(&latent.retaped::<NoneTape>().mean()),
        scalar(&prior.retaped::<NoneTape>().mean()),
    );
    let loss = (reconstruction + latent * weights.alpha + prior * weights.prior).mean();
    let total = scalar(&loss.retaped::<NoneTape>());
    let grads = (loss * weight).backward();
    (
        LossTerms {
            reconstruction: r,
            latent: l,
            prior: p,
            total,
            ..LossTerms::default()
        },
        grads,
    )
}

/// The mixture prior term u(z) of every column of `z` (`[latent, n]`), on the tape:
/// `u(z) = −2·s2·log((1/K)·Σ_c exp(−||z − μ_c||² / (2·s2)))` over the `classes` = K one-hot
/// means, with the log-sum-exp taken about its largest term so no exponential underflows.
/// It is `−log p(z)` under the equal-weight mixture of N(μ_c, s2·I), scaled by 2·s2 and
/// shifted by a constant (`u(z) = 2·s2·(−log p(z)) − d·s2·log(2π·s2)` in `d` latent
/// dimensions), so that near one mean it is `||z − μ_c||² + 2·s2·log K`, in the units of the
/// latent term of Eq. 7.
pub fn mixture_prior<D: Device<f32>, T: Tape<f32, D>>(
    z: Matrix<D, T>,
    classes: usize,
    s2: f32,
) -> Tensor<(usize,), f32, D, T> {
    let (latent, n) = *z.shape();
    let mut one_hot = vec![0f32; classes * latent];
    for c in 0..classes.min(latent) {
        one_hot[c * latent + c] = 1.0;
    }
    let means = z.device().tensor_from_vec(one_hot, (classes, latent));
    // [classes, latent, n]: z_i − μ_c,i for every class c. (Not `slice`: dfdx 0.13's CPU
    // slice backward overwrites the input's gradient instead of adding to it, which would
    // erase the decoder's gradient of z.)
    let shape = (classes, latent, n);
    let diff = z.broadcast_like::<_, Axis<0>>(&shape) - means.broadcast_like::<_, Axis<2>>(&shape);
    let distances = diff.square().sum::<_, Axis<1>>();
    let log_mixture = (distances * (-0.5 / s2)).logsumexp::<_, Axis<0>>();
    (log_mixture - (classes as f32).ln()) * (-2.0 * s2)
}

/// The reference for [`mixture_prior`], in f64 on the host: u(z) of one latent vector.
pub fn mixture_prior_reference(z: &[f64], classes: usize, s2: f64) -> f64 {
    let exponents: Vec<f64> = (0..classes)
        .map(|c| {
            let d: f64 = z
                .iter()
                .enumerate()
                .map(|(i, &v)| (v - if i == c { 1.0 } else { 0.0 }).powi(2))
                .sum();
            -d / (2.0 * s2)
        })
        .collect();
    let max = exponents.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = exponents.iter().map(|a| (a - max).exp()).sum();
    -2.0 * s2 * (max + sum.ln() - (classes as f64).ln())
}

/// The value of a scalar tensor.
fn scalar<D: Device<f32>>(t: &Tensor<(), f32, D>) -> f32 {
    t.as_vec().first().copied().unwrap_or(f32::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative gap allowed between the f32 tape computation and the f64 reference.
    const PRIOR_TOLERANCE: f64 = 1e-5;

    #[test]
    fn the_mixture_prior_matches_the_reference_where_plain_exp_underflows() {
        let dev = Cpu::default();
        let s2 = 1.0f32 / 3000.0;
        // Four latent columns (latent 4, 3 classes: the 4th dimension is zero-padding):
        // near mean 1, between means 0 and 2, at the origin, and far out.
        let columns: [[f32; 4]; 4] = [
            [0.01, 0.98, -0.02, 0.03],
            [0.5, 0.0, 0.5, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [3.0, -2.0, 1.5, 4.0],
        ];
        let n = columns.len();
        let mut data = vec![0f32; 4 * n];
        for (c, column) in columns.iter().enumerate() {
            for (r, &v) in column.iter().enumerate() {
                data[r * n + c] = v;
            }
        }
        let z = dev.tensor_from_vec(data, (4, n));
        let ours = mixture_prior(z, 3, s2).as_vec();
        for (c, column) in columns.iter().enumerate() {
            let wide: Vec<f64> = column.iter().map(|&v| f64::from(v)).collect();
            let expected = mixture_prior_reference(&wide, 3, f64::from(s2));
            let gap = (f64::from(ours[c]) - expected).abs();
            assert!(
                gap <= PRIOR_TOLERANCE * expected.abs().max(1.0),
                "column {c}: {} vs {expected}",
                ours[c]
            );
            // The plain formula underflows in f32 for every column but the first: each
            // exp(−||z − μ_c||² / (2 s2)) is 0, so its log is −∞.
            let plain: f32 = (0..3)
                .map(|k| {
                    let d: f32 = column
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| (v - if i == k { 1.0 } else { 0.0 }).powi(2))
                        .sum();
                    (-d / (2.0 * s2)).exp()
                })
                .sum();
            if c > 0 {
                assert_eq!(plain, 0.0, "column {c} should underflow the plain formula");
            }
        }
        // Near a single mean, u is the squared distance to it plus 2·s2·log K.
        let d1: f64 = [0.01f64, -0.02, -0.02, 0.03].iter().map(|v| v * v).sum();
        let near = d1 + 2.0 * f64::from(s2) * 3f64.ln();
        assert!(
            (f64::from(ours[0]) - near).abs() < 1e-6,
            "{} vs {near}",
            ours[0]
        );
    }

    #[test]
    fn the_mixture_prior_gradient_points_to_the_nearest_mean() {
        let dev = Cpu::default();
        let z = dev.tensor_from_vec(vec![0.2f32, 0.7, 0.1], (3, 1));
        let u = mixture_prior(z.clone().traced(Gradients::leaky()), 3, 1.0 / 3000.0);
        let grads = u.sum().backward();
        let g = grads.get(&z).as_vec();
        // d u / d z = 2 (z − μ_1) when mean 1 dominates the mixture.
        let expected = [0.4f32, -0.6, 0.2];
        for (a, b) in g.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{g:?}");
        }
    }
}
