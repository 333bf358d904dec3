//! Adversarial training of the GM-VAE (issue 17): for each batch an inner attack inside the
//! L∞ ball around every training image, then an outer loss that keeps Eq. 7 on the clean
//! image and pulls the encoding of the perturbed one to a target: its true class mean, or, in
//! the variant after confidence-calibrated adversarial training (CCAT, Stutz et al. 2020), a
//! point that moves from the class mean to the centroid of the class means as the
//! perturbation grows, where the Mahalanobis test rejects it.
//!
//! The inner attack maximises one of three losses ([`InnerLoss`]) from a uniform random start:
//! the cross-entropy of the mixture posterior (softmax of the class coordinates of f(x'), the
//! loss of [`crate::attack::EncoderLoss`] at T = 1), the latent margin of the best wrong
//! class (the adaptive attack's untargeted loss without its threshold hinges), or the
//! closeness to that class's mean (its targeted mean strategy without the hinges). It takes one
//! signed step of `step_factor·ε` (FGSM with random start, as in fast adversarial training,
//! Wong et al. 2020), or `steps` signed steps of `step_factor·ε / steps` each (PGD), each step
//! projected back into the ball and `[0, 1]`.

use crate::attack::project::sign;
use crate::data::Dataset;
use crate::model::params::Matrix;
use crate::model::{Network, Params};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// The largest L∞ budget accepted (images live in `[0, 1]`).
pub const MAX_EPS: f32 = 1.0;

/// The most inner attack steps accepted.
pub const MAX_STEPS: usize = 100;

/// Settings of adversarial training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdversarialTraining {
    /// The L∞ budget ε of the inner attack (after the ramp).
    pub eps: f32,
    /// Inner attack steps: 1 is FGSM with a random start, more is PGD.
    pub steps: usize,
    /// Total step length as a multiple of ε: one step of `step_factor·ε`, or `steps` steps of
    /// `step_factor·ε / steps` (1.25 for FGSM with random start, after Wong et al.).
    pub step_factor: f32,
    /// Weight w of the adversarial term: the outer loss is Eq. 7 on x plus
    /// `w·α·||f(x') − μ_y||²`.
    pub weight: f32,
    /// Epochs over which ε grows linearly from 0 (per step) to its value; 0 starts at ε.
    pub ramp_epochs: usize,
    /// Where the encoding of a perturbed image is pulled (absent in older records: the true
    /// class mean).
    #[serde(default)]
    pub target: AdversarialTarget,
    /// The loss the inner attack climbs (absent in older records: the posterior
    /// cross-entropy).
    #[serde(default)]
    pub loss: InnerLoss,
}

/// The loss the inner attack of adversarial training climbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InnerLoss {
    /// The cross-entropy of softmax(class coordinates of f(x')) at temperature 1: it lowers the
    /// true class's coordinate and raises every other one by its posterior share.
    #[default]
    Posterior,
    /// The latent margin `z_k − z_y` of the best wrong class `k` (the one with the largest
    /// coordinate, chosen again before every step), half of `d²(z, μ_y) − d²(z, μ_k)` for
    /// one-hot means: it walks f(x') towards the nearest wrong class mean, as the adaptive
    /// attack's untargeted strategy does.
    Margin,
    /// The negated squared distance −||f(x') − μ_k||² to the mean of the best wrong class `k`
    /// (chosen again before every step): it walks f(x') into k's acceptance region, as the
    /// adaptive attack's targeted mean strategy (the one that wins most often) does, without
    /// its threshold hinges, which need the calibration that training has not made yet.
    WrongMean,
}

crate::choice::choice!(InnerLoss {
    Posterior => "posterior", "cross-entropy of the mixture posterior at temperature 1";
    Margin => "margin", "latent margin of the best wrong class, chosen again every step (the adaptive attack's untargeted loss)";
    WrongMean => "wrong-mean", "distance to the mean of the best wrong class, chosen again every step (the adaptive attack's mean strategy without hinges)";
});

/// Where the outer loss pulls the encoding f(x') of a perturbed image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdversarialTarget {
    /// Its true class mean μ_y: the perturbed image must stay correctly classified.
    #[default]
    TrueClass,
    /// The CCAT-like target λ·μ_y + (1 − λ)·c, with c the centroid of the class means (equally
    /// far from every mean, far beyond τ_enc) and λ = (1 − min(1, ||x' − x||∞/ε))^10: a
    /// small perturbation keeps its class, a full-budget one is to be rejected.
    Reject,
}

crate::choice::choice!(AdversarialTarget {
    TrueClass => "true-class", "pull f(x') to the true class mean (Madry-style)";
    Reject => "reject", "pull f(x') towards the centroid of the means as ||x' - x|| reaches eps, to be rejected (CCAT-like)";
});

/// The exponent ρ of the CCAT-like interpolation (Stutz et al. use 10).
const REJECT_SHARPNESS: i32 = 10;

/// The defaults chosen by the sweep in SECURITY-EVALUATION.md: ε = 0.3, FGSM with random start
/// (step 1.25·ε), weight 1, ε ramped over the first 5 epochs.
pub const DEFAULT_ADVERSARIAL: AdversarialTraining = AdversarialTraining {
    eps: 0.3,
    steps: 1,
    step_factor: 1.25,
    weight: 1.0,
    ramp_epochs: 5,
    target: AdversarialTarget::TrueClass,
    loss: InnerLoss::Posterior,
};

/// Why adversarial training settings are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdversarialError {
    /// ε outside (0, [`MAX_EPS`]].
    #[error("the adversarial budget must lie in (0, {MAX_EPS}], not {0}")]
    Eps(f32),
    /// Steps outside 1..=[`MAX_STEPS`].
    #[error("the inner attack steps must be between 1 and {MAX_STEPS}, not {0}")]
    Steps(usize),
    /// A step factor outside (0, 4].
    #[error("the inner attack step factor must lie in (0, 4], not {0}")]
    StepFactor(f32),
    /// A negative or non-finite weight.
    #[error("the adversarial weight must be finite and positive, not {0}")]
    Weight(f32),
}

impl AdversarialTraining {
    /// Checks the settings before any work.
    pub fn validate(&self) -> Result<(), AdversarialError> {
        if !(self.eps > 0.0 && self.eps <= MAX_EPS) {
            return Err(AdversarialError::Eps(self.eps));
        }
        if !(1..=MAX_STEPS).contains(&self.steps) {
            return Err(AdversarialError::Steps(self.steps));
        }
        if !(self.step_factor > 0.0 && self.step_factor <= 4.0) {
            return Err(AdversarialError::StepFactor(self.step_factor));
        }
        if !(self.weight.is_finite() && self.weight > 0.0) {
            return Err(AdversarialError::Weight(self.weight));
        }
        Ok(())
    }

    /// The budget at optimizer step `step` (0-based) of a run with `steps_per_epoch` steps
    /// an epoch: ε·min(1, (step + 1) / (ramp_epochs·steps_per_epoch)).
    pub fn eps_at(&self, step: usize, steps_per_epoch: usize) -> f32 {
        let ramp = self.ramp_epochs * steps_per_epoch;
        if ramp == 0 {
            return self.eps;
        }
        self.eps * ((step + 1) as f32 / ramp as f32).min(1.0)
    }
}

/// The inner attack of one batch, as the training step needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct InnerAttack {
    /// The budget of this step (after the ramp).
    pub eps: f32,
    /// Signed steps.
    pub steps: usize,
    /// Length of each step.
    pub step_size: f32,
    /// The random start, `[pixels, n]` uniform in `[−1, 1]` (scaled by ε).
    pub start: Vec<f32>,
    /// Where the outer loss pulls the perturbed encodings.
    pub target: AdversarialTarget,
    /// The loss the attack climbs.
    pub loss: InnerLoss,
}

impl InnerAttack {
    /// The inner attack of `settings` at budget `eps` from the random start `start`.
    pub fn new(settings: &AdversarialTraining, eps: f32, start: Vec<f32>) -> Self {
        Self {
            eps,
            steps: settings.steps,
            step_size: settings.step_factor * eps / settings.steps as f32,
            start,
            target: settings.target,
            loss: settings.loss,
        }
    }

    /// Columns `start..start + len` of this attack (for a shard of a batch of `n` columns
    /// with `rows` pixels each).
    pub fn columns(&self, rows: usize, n: usize, start: usize, len: usize) -> Self {
        Self {
            start: super::batch::columns(&self.start, rows, n, start, len),
            ..self.clone()
        }
    }
}

/// The perturbed images x' of `images` (`[pixels, n]`) for labels given as their class-mean
/// `targets` (`[latent, n]`, one-hot in the first `classes` rows): the inner attack against
/// the current parameters. Every x' lies within `attack.eps` of its image in L∞ and in
/// `[0, 1]`.
pub fn perturb<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    images: &Matrix<D>,
    targets: &Matrix<D>,
    attack: &InnerAttack,
) -> Matrix<D> {
    let clean = images.as_vec();
    let (pixels, n) = *images.shape();
    let mut current: Vec<f32> = clean
        .iter()
        .zip(&attack.start)
        .map(|(&x, &u)| (x + attack.eps * u).clamp(0.0, 1.0))
        .collect();
    for _ in 0..attack.steps {
        let x = network
            .device()
            .tensor_from_vec(current.clone(), (pixels, n));
        let gradient = super::inner_loss::gradient(attack.loss, network, params, x, targets);
        for ((value, &g), &x0) in current.iter_mut().zip(&gradient).zip(&clean) {
            let stepped = *value + attack.step_size * sign(g);
            *value = stepped
                .clamp(x0 - attack.eps, x0 + attack.eps)
                .clamp(0.0, 1.0);
        }
    }
    network.device().tensor_from_vec(current, (pixels, n))
}

/// The latent targets `[latent, n]` of the perturbed images `adversarial` of `images` (both
/// `[pixels, n]`, row-major), whose class means are `means` (`[latent, n]`, one-hot in the
/// first `classes` rows): the class means themselves for [`AdversarialTarget::TrueClass`], the
/// CCAT-like interpolation towards the centroid for [`AdversarialTarget::Reject`].
pub fn latent_targets(
    attack: &InnerAttack,
    images: &[f32],
    adversarial: &[f32],
    means: &[f32],
    n: usize,
    classes: usize,
) -> Vec<f32> {
    if attack.target == AdversarialTarget::TrueClass || n == 0 {
        return means.to_vec();
    }
    let lambda: Vec<f32> = (0..n)
        .map(|c| {
            let moved = images
                .iter()
                .zip(adversarial)
                .skip(c)
                .step_by(n)
                .map(|(&x, &a)| (a - x).abs())
                .fold(0.0f32, f32::max);
            let share = if attack.eps > 0.0 {
                (moved / attack.eps).min(1.0)
            } else {
                0.0
            };
            (1.0 - share).powi(REJECT_SHARPNESS)
        })
        .collect();
    let centroid = 1.0 / classes.max(1) as f32;
    means
        .iter()
        .enumerate()
        .map(|(index, &mean)| {
            let (row, column) = (index / n, index % n);
            let centre = if row < classes { centroid } else { 0.0 };
            lambda[column] * mean + (1.0 - lambda[column]) * centre
        })
        .collect()
}

/// Images per batch of [`robust_accuracy`].
const ROBUST_BATCH: usize = 100;

/// The nearest-mean accuracy (no thresholds) on `data` after an attack from no random start
/// with budget `eps`: `steps` signed steps of `step_factor·eps / steps` on the same
/// cross-entropy as the inner attack — FGSM with `(1, 1.0)`, PGD with e.g. `(10, 2.5)`.
/// Deterministic; the catastrophic-overfitting monitor of adversarial training.
pub fn robust_accuracy<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    data: &Dataset,
    eps: f32,
    steps: usize,
    step_factor: f32,
) -> f64 {
    let config = *network.config();
    let dev = network.device();
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(ROBUST_BATCH) {
        let n = chunk.len();
        let images = dev.tensor_from_vec(
            super::batch::transpose_rows(data, chunk),
            (config.pixels(), n),
        );
        let labels = chunk.iter().map(|&i| data.labels[i]);
        let targets = dev.tensor_from_vec(
            super::batch::one_hot_columns(labels, config.latent, n),
            (config.latent, n),
        );
        let attack = InnerAttack {
            eps,
            steps,
            step_size: step_factor * eps / steps as f32,
            start: vec![0.0; config.pixels() * n],
            target: AdversarialTarget::TrueClass,
            loss: InnerLoss::Posterior,
        };
        let adversarial = perturb(network, params, &images, &targets, &attack);
        let z = network.encode(params, adversarial).as_vec();
        for (column, &i) in chunk.iter().enumerate() {
            let predicted = (0..config.classes)
                .max_by(|&a, &b| z[a * n + column].total_cmp(&z[b * n + column]))
                .unwrap_or(0);
            correct += usize::from(predicted == usize::from(data.labels[i]));
        }
    }
    correct as f64 / data.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, Preset};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn perturbations_stay_in_the_ball_and_in_the_unit_interval_and_raise_the_loss() {
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 3, Some(4)).unwrap();
        let dev = Cpu::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let params = Params::init(&config, &dev, &mut rng);
        let network = Network::new(config, &dev);
        let n = 5;
        // Images with values at 0, at 1 and in between, so both clips are exercised.
        let clean: Vec<f32> = (0..64 * n)
            .map(|i| match i % 3 {
                0 => 0.0,
                1 => 1.0,
                _ => rng.gen::<f32>(),
            })
            .collect();
        let mut targets = vec![0f32; 4 * n];
        for c in 0..n {
            targets[(c % 3) * n + c] = 1.0;
        }
        let images = dev.tensor_from_vec(clean.clone(), (64, n));
        let targets = dev.tensor_from_vec(targets, (4, n));
        for (settings, eps) in [
            (DEFAULT_ADVERSARIAL, 0.3),
            (
                AdversarialTraining {
                    steps: 7,
                    step_factor: 2.5,
                    ..DEFAULT_ADVERSARIAL
                },
                0.1,
            ),
        ] {
            let start: Vec<f32> = (0..64 * n).map(|_| rng.gen_range(-1.0..=1.0)).collect();
            let attack = InnerAttack::new(&settings, eps, start);
            let adv = perturb(&network, &params, &images, &targets, &attack).as_vec();
            for (&a, &x) in adv.iter().zip(&clean) {
                assert!((0.0..=1.0).contains(&a), "{a}");
                assert!((a - x).abs() <= eps + 1e-6, "{a} vs {x} at eps {eps}");
            }
            let moved = adv.iter().zip(&clean).filter(|(a, x)| a != x).count();
            assert!(moved > 64 * n / 3, "only {moved} pixels moved");
            // The attack raises the cross-entropy it climbs.
            let loss = |x: Vec<f32>| -> f32 {
                let z = network.encode(&params, dev.tensor_from_vec(x, (64, n)));
                let logits = z.as_vec();
                let t = targets.as_vec();
                (0..n)
                    .map(|c| {
                        let column: Vec<f32> = (0..3).map(|k| logits[k * n + c]).collect();
                        let max = column.iter().copied().fold(f32::MIN, f32::max);
                        let lse = max + column.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
                        let y = (0..3).find(|&k| t[k * n + c] == 1.0).unwrap();
                        lse - column[y]
                    })
                    .sum()
            };
            assert!(loss(adv) > loss(clean.clone()));
        }
    }

    #[test]
    fn reject_targets_move_from_the_class_mean_to_the_centroid_as_the_perturbation_grows() {
        // Two pixels, three columns moved by 0, ε/2 and ε; latent 4 with 3 classes.
        let (n, classes) = (3, 3);
        let images = vec![0.5, 0.5, 0.5, 0.2, 0.2, 0.2];
        let adversarial = vec![0.5, 0.45, 0.4, 0.2, 0.25, 0.2];
        let mut means = vec![0.0f32; 4 * n];
        for c in 0..n {
            means[c * n + c] = 1.0;
        }
        let attack = |target| InnerAttack {
            eps: 0.1,
            steps: 1,
            step_size: 0.1,
            start: vec![0.0; 2 * n],
            target,
            loss: InnerLoss::Posterior,
        };
        let same = latent_targets(
            &attack(AdversarialTarget::TrueClass),
            &images,
            &adversarial,
            &means,
            n,
            classes,
        );
        assert_eq!(same, means);
        let t = latent_targets(
            &attack(AdversarialTarget::Reject),
            &images,
            &adversarial,
            &means,
            n,
            classes,
        );
        let column = |c: usize| (0..4).map(|row| t[row * n + c]).collect::<Vec<f32>>();
        // Unmoved: the class mean itself.
        assert_eq!(column(0), [1.0, 0.0, 0.0, 0.0]);
        // Moved by ε/2: λ = 0.5^10 of the mean, the rest the centroid (1/3 on class rows).
        let lambda = 0.5f32.powi(10);
        let third = 1.0 / 3.0;
        let expected = [
            (1.0 - lambda) * third,
            lambda + (1.0 - lambda) * third,
            (1.0 - lambda) * third,
            0.0,
        ];
        for (a, b) in column(1).iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{:?} vs {expected:?}", column(1));
        }
        // Moved by the whole budget: the centroid, equally far from every class mean.
        for (a, b) in column(2).iter().zip([third, third, third, 0.0]) {
            assert!((a - b).abs() < 1e-6, "{:?}", column(2));
        }
    }

    #[test]
    fn the_budget_ramps_linearly_and_bad_settings_are_refused() {
        let settings = AdversarialTraining {
            eps: 0.2,
            ramp_epochs: 2,
            ..DEFAULT_ADVERSARIAL
        };
        assert!((settings.eps_at(0, 10) - 0.01).abs() < 1e-7);
        assert!((settings.eps_at(9, 10) - 0.1).abs() < 1e-7);
        assert_eq!(settings.eps_at(19, 10), 0.2);
        assert_eq!(settings.eps_at(500, 10), 0.2);
        let no_ramp = AdversarialTraining {
            ramp_epochs: 0,
            ..settings
        };
        assert_eq!(no_ramp.eps_at(0, 10), 0.2);
        for bad in [
            AdversarialTraining {
                eps: 0.0,
                ..settings
            },
            AdversarialTraining {
                eps: f32::NAN,
                ..settings
            },
            AdversarialTraining {
                steps: 0,
                ..settings
            },
            AdversarialTraining {
                step_factor: 9.0,
                ..settings
            },
            AdversarialTraining {
                weight: -1.0,
                ..settings
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(settings.validate().is_ok());
    }
}
