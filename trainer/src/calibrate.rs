//! Rejection thresholds from training statistics (paper §3.4).
//!
//! τ_enc is the chi-square critical value, with `latent` degrees of freedom at the configured
//! confidence, for the squared Mahalanobis distance of f(x) to the mean of its predicted class.
//! τ_dec is a statistic of the training reconstruction errors ||x − g(f(x))||².

use crate::chi_square;
use crate::infer::{nearest_means, Encoded};
use crate::linalg::spd_inverse;
use crate::model::ModelConfig;
use ndarray::{Array2, ArrayView1};
use serde::{Deserialize, Serialize};

/// Which covariance the Mahalanobis distance uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CovarianceKind {
    /// The fixed encoder covariance s2·I for every class (the training noise).
    Isotropic,
    /// Per class, the second moment of training encodings about the class mean.
    PerClass,
}

crate::choice::choice!(CovarianceKind {
    Isotropic => "isotropic", "the fixed encoder covariance s2·I for every class";
    PerClass => "per-class", "per class, the second moment of training encodings about its mean";
});

/// How τ_enc is derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TauEncStatistic {
    /// The chi-square critical value at the confidence level, with `latent` degrees of
    /// freedom (the paper): exact only if the encodings are Gaussian about their class means.
    #[default]
    ChiSquare,
    /// The empirical quantile at the confidence level (nearest rank) of the calibration
    /// images' squared Mahalanobis distances to their nearest class mean, the score the
    /// classifier thresholds. On images the model did not train on (a calibration holdout)
    /// it rejects about `1 − confidence` of unseen clean inputs whatever the distances'
    /// distribution.
    Quantile,
}

crate::choice::choice!(TauEncStatistic {
    ChiSquare => "chi-square", "the chi-square critical value with latent degrees of freedom (the paper)";
    Quantile => "quantile", "the quantile of the calibration images' distances (use with --calibration-holdout)";
});

/// How τ_dec is derived from the training reconstruction errors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum TauDecStatistic {
    /// The empirical quantile at the confidence level (nearest rank).
    Quantile,
    /// Mean plus `k` standard deviations.
    MeanPlusStd(f64),
}

/// Settings that produce the thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSettings {
    /// Confidence level, e.g. 0.9973 (the 3-sigma analogue).
    pub confidence: f64,
    /// Covariance model of the latent threshold.
    pub covariance: CovarianceKind,
    /// Statistic of the latent threshold (absent in older records: chi-square).
    #[serde(default)]
    pub tau_enc: TauEncStatistic,
    /// Statistic of the reconstruction threshold.
    pub tau_dec: TauDecStatistic,
    /// When set, the true-positive rate the two thresholds are fitted to together: both are
    /// scaled by one factor so that exactly this share (nearest rank) of the correctly
    /// classified calibration images passes both, the operating point of RErr@99%TPR
    /// (Stutz et al. 2020). `None` (and absent in older records): each threshold at its own
    /// confidence statistic.
    #[serde(default)]
    pub tpr: Option<f64>,
}

/// Why thresholds cannot be calibrated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    /// The confidence level is not strictly between 0 and 1 (also as an `f32`).
    #[error("the confidence level must lie strictly between 0 and 1, not {0}")]
    Confidence(f64),
    /// The true-positive rate is not strictly between 0 and 1.
    #[error("the true-positive rate must lie strictly between 0 and 1, not {0}")]
    Tpr(f64),
    /// No calibration image is classified correctly, so no true-positive rate can be fitted.
    #[error("no calibration image is classified correctly: cannot fit a true-positive rate")]
    NoCorrectSamples,
    /// The `K` of τ_dec = mean + K·std is negative or not finite.
    #[error("the K of τ_dec = mean + K·std must be finite and at least 0, not {0}")]
    TauDecStd(f64),
    /// A class has too few training samples for a covariance matrix in the latent space.
    #[error("class {class} has {samples} training samples; a per-class covariance in {latent} dimensions needs more than {latent} (use the isotropic covariance)")]
    TooFewSamples {
        /// The class.
        class: usize,
        /// Its training samples.
        samples: usize,
        /// The latent dimension.
        latent: usize,
    },
    /// A class's covariance matrix could not be inverted.
    #[error("the covariance of class {0} is not positive definite")]
    NotPositiveDefinite(usize),
    /// There was nothing to calibrate on.
    #[error("no training samples to calibrate on")]
    NoSamples,
}

impl CalibrationSettings {
    /// Checks the settings before any work: a confidence level strictly inside (0, 1) that
    /// stays below 1 as an `f32` (the file stores it so), and a finite, non-negative `K`.
    pub fn validate(&self) -> Result<(), CalibrationError> {
        let c = self.confidence;
        if !(c > 0.0 && c < 1.0 && (c as f32) < 1.0 && (c as f32) > 0.0) {
            return Err(CalibrationError::Confidence(c));
        }
        if let Some(tpr) = self.tpr {
            if !(tpr > 0.0 && tpr < 1.0) {
                return Err(CalibrationError::Tpr(tpr));
            }
        }
        if let TauDecStatistic::MeanPlusStd(k) = self.tau_dec {
            if !(k.is_finite() && k >= 0.0) {
                return Err(CalibrationError::TauDecStd(k));
            }
        }
        Ok(())
    }
}

impl CalibrationSettings {
    /// Confidence 0.9973 (the 3-sigma analogue), per-class covariance, τ_enc the chi-square
    /// critical value, τ_dec the quantile, no joint true-positive rate.
    pub const DEFAULT: Self = Self {
        confidence: 0.9973,
        covariance: CovarianceKind::PerClass,
        tau_enc: TauEncStatistic::ChiSquare,
        tau_dec: TauDecStatistic::Quantile,
        tpr: None,
    };
}

impl Default for CalibrationSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Thresholds and the latent covariance model, ready to score inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The settings used.
    pub settings: CalibrationSettings,
    /// Encoder variance s2.
    pub s2: f64,
    /// Critical value for the squared Mahalanobis distance.
    pub tau_enc: f32,
    /// Critical value for the reconstruction error.
    pub tau_dec: f32,
    /// Per-class precision matrices, `classes × latent × latent`, row-major, f32 as exported.
    pub precisions: Vec<f32>,
    /// Number of training samples the statistics came from.
    pub samples: usize,
}

impl Calibration {
    /// Derives the thresholds from the training split's encodings.
    pub fn fit(
        config: &ModelConfig,
        s2: f64,
        train: &Encoded,
        labels: ArrayView1<u8>,
        settings: CalibrationSettings,
    ) -> Result<Self, CalibrationError> {
        settings.validate()?;
        let d = config.latent;
        let precisions = match settings.covariance {
            CovarianceKind::Isotropic => isotropic_precisions(config, s2),
            CovarianceKind::PerClass => per_class_precisions(config, &train.latents, labels)?,
        };
        let errors: Vec<f64> = train
            .reconstruction_errors
            .iter()
            .map(|&e| f64::from(e))
            .collect();
        let tau_dec = reconstruction_threshold(&errors, settings)? as f32;
        let mut calibration = Self {
            settings,
            s2,
            tau_enc: chi_square::quantile(d, settings.confidence) as f32,
            tau_dec,
            precisions,
            samples: errors.len(),
        };
        // Predictions and distances do not depend on the thresholds: scored once for both
        // rules that need them.
        let scores = (settings.tau_enc == TauEncStatistic::Quantile || settings.tpr.is_some())
            .then(|| calibration.score(train, config.classes));
        if let (TauEncStatistic::Quantile, Some(scores)) = (settings.tau_enc, &scores) {
            let distances: Vec<f64> = scores
                .mahalanobis_sq
                .iter()
                .map(|&m| f64::from(m))
                .collect();
            calibration.tau_enc = nearest_rank(&distances, settings.confidence)? as f32;
        }
        if let (Some(tpr), Some(scores)) = (settings.tpr, &scores) {
            let scale = calibration.tpr_scale(scores, labels, tpr)?;
            calibration.tau_enc = scaled_up(calibration.tau_enc, scale);
            calibration.tau_dec = scaled_up(calibration.tau_dec, scale);
        }
        Ok(calibration)
    }

    /// The factor by which both thresholds are scaled so that the share `tpr` (nearest rank)
    /// of the correctly classified calibration images (`scores`, with true `labels`) passes
    /// both: the `tpr` quantile of `max(d²/τ_enc, e/τ_dec)` over those images.
    fn tpr_scale(
        &self,
        scores: &Scores,
        labels: ArrayView1<u8>,
        tpr: f64,
    ) -> Result<f64, CalibrationError> {
        let ratios: Vec<f64> = (0..scores.predictions.len())
            .filter(|&i| labels.get(i).map(|&y| usize::from(y)) == Some(scores.predictions[i]))
            .map(|i| {
                let latent = f64::from(scores.mahalanobis_sq[i]) / f64::from(self.tau_enc);
                let decoder = f64::from(scores.reconstruction_errors[i]) / f64::from(self.tau_dec);
                latent.max(decoder)
            })
            .collect();
        if ratios.is_empty() {
            return Err(CalibrationError::NoCorrectSamples);
        }
        nearest_rank(&ratios, tpr)
    }

    /// Squared Mahalanobis distance of `z` to the mean of `class` (one-hot e_class).
    pub fn mahalanobis_sq(&self, z: ArrayView1<f32>, class: usize) -> f32 {
        let d = z.len();
        let diff: Vec<f64> = z
            .iter()
            .enumerate()
            .map(|(i, &v)| f64::from(v) - if i == class { 1.0 } else { 0.0 })
            .collect();
        let p = &self.precisions[class * d * d..(class + 1) * d * d];
        let mut total = 0.0;
        for i in 0..d {
            let row: f64 = (0..d).map(|j| f64::from(p[i * d + j]) * diff[j]).sum();
            total += diff[i] * row;
        }
        total as f32
    }

    /// Scores every encoded input: predicted class, squared Mahalanobis distance to it, and
    /// reconstruction error.
    pub fn score(&self, encoded: &Encoded, classes: usize) -> Scores {
        let predictions = nearest_means(&encoded.latents, classes);
        let mahalanobis_sq = encoded
            .latents
            .rows()
            .into_iter()
            .zip(&predictions)
            .map(|(z, &c)| self.mahalanobis_sq(z, c))
            .collect();
        Scores {
            predictions,
            mahalanobis_sq,
            reconstruction_errors: encoded.reconstruction_errors.to_vec(),
        }
    }

    /// Whether an input with these scores passes both thresholds.
    pub fn accepts(&self, mahalanobis_sq: f32, reconstruction_error: f32) -> bool {
        mahalanobis_sq <= self.tau_enc && reconstruction_error <= self.tau_dec
    }
}

/// Per-input scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Nearest class mean.
    pub predictions: Vec<usize>,
    /// Squared Mahalanobis distance to the predicted class mean.
    pub mahalanobis_sq: Vec<f32>,
    /// ||x − g(f(x))||².
    pub reconstruction_errors: Vec<f32>,
}

/// (s2·I)⁻¹ for every class.
fn isotropic_precisions(config: &ModelConfig, s2: f64) -> Vec<f32> {
    let d = config.latent;
    let mut out = vec![0.0; config.classes * d * d];
    for c in 0..config.classes {
        for i in 0..d {
            out[c * d * d + i * d + i] = (1.0 / s2) as f32;
        }
    }
    out
}

/// Inverse of each class's second moment of training encodings about its one-hot mean, with a
/// small ridge (1e-6 of the mean variance) so rarely used latent directions stay invertible.
fn per_class_precisions(
    config: &ModelConfig,
    latents: &Array2<f32>,
    labels: ArrayView1<u8>,
) -> Result<Vec<f32>, CalibrationError> {
    let d = config.latent;
    let mut out = Vec::with_capacity(config.classes * d * d);
    for c in 0..config.classes {
        let mut cov = Array2::<f64>::zeros((d, d));
        let mut n = 0usize;
        for (z, &label) in latents.rows().into_iter().zip(labels.iter()) {
            if usize::from(label) != c {
                continue;
            }
            n += 1;
            let diff: Vec<f64> = (0..d)
                .map(|i| f64::from(z[i]) - if i == c { 1.0 } else { 0.0 })
                .collect();
            for i in 0..d {
                for j in 0..d {
                    cov[[i, j]] += diff[i] * diff[j];
                }
            }
        }
        if n <= d {
            return Err(CalibrationError::TooFewSamples {
                class: c,
                samples: n,
                latent: d,
            });
        }
        cov /= n as f64;
        let ridge = 1e-6 * cov.diag().sum() / d as f64;
        for i in 0..d {
            cov[[i, i]] += ridge.max(1e-12);
        }
        let Some(inv) = spd_inverse(&cov) else {
            return Err(CalibrationError::NotPositiveDefinite(c));
        };
        out.extend(inv.iter().map(|&v| v as f32));
    }
    Ok(out)
}

/// `threshold·scale` rounded up to an `f32`, so that an image exactly at the scaled threshold
/// still passes it.
fn scaled_up(threshold: f32, scale: f64) -> f32 {
    let exact = f64::from(threshold) * scale;
    let rounded = exact as f32;
    if f64::from(rounded) < exact {
        rounded.next_up()
    } else {
        rounded
    }
}

/// The nearest-rank quantile of `values` at `level`: the `⌈level·n⌉`-th smallest.
fn nearest_rank(values: &[f64], level: f64) -> Result<f64, CalibrationError> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (level * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .ok_or(CalibrationError::NoSamples)
}

/// τ_dec from training reconstruction errors.
fn reconstruction_threshold(
    errors: &[f64],
    settings: CalibrationSettings,
) -> Result<f64, CalibrationError> {
    if errors.is_empty() {
        return Err(CalibrationError::NoSamples);
    }
    Ok(match settings.tau_dec {
        TauDecStatistic::Quantile => nearest_rank(errors, settings.confidence)?,
        TauDecStatistic::MeanPlusStd(k) => {
            let n = errors.len() as f64;
            let mean = errors.iter().sum::<f64>() / n;
            let var = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
            mean + k * var.sqrt()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Preset;
    use ndarray::{Array1, Array2};

    /// 200 encodings of 2 classes in 2 dimensions, each a fixed offset from its class mean,
    /// with labels.
    fn encodings() -> (ModelConfig, Encoded, Array1<u8>) {
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 2, None).unwrap();
        let n = 200;
        let mut latents = Array2::<f32>::zeros((n, 2));
        let mut labels = Array1::<u8>::zeros(n);
        for i in 0..n {
            let class = i % 2;
            // Offsets spread over (−0.2, 0.2) with a few far ones: heavier tails than Gaussian.
            let t = ((i * 37) % 100) as f32 / 100.0 - 0.5;
            let far = if i % 50 == 0 { 3.0 } else { 1.0 };
            latents[[i, class]] = 1.0 + 0.4 * t * far;
            latents[[i, 1 - class]] = 0.1 * t;
            labels[i] = class as u8;
        }
        let errors = Array1::from_iter((0..n).map(|i| i as f32));
        let encoded = Encoded {
            latents,
            reconstruction_errors: errors,
        };
        (config, encoded, labels)
    }

    #[test]
    fn the_quantile_tau_enc_accepts_the_confidence_share_of_the_calibration_images() {
        let (config, encoded, labels) = encodings();
        let settings = CalibrationSettings {
            confidence: 0.95,
            tau_enc: TauEncStatistic::Quantile,
            ..CalibrationSettings::DEFAULT
        };
        let c = Calibration::fit(&config, 1e-3, &encoded, labels.view(), settings).unwrap();
        let scores = c.score(&encoded, 2);
        let accepted = scores
            .mahalanobis_sq
            .iter()
            .filter(|&&m| m <= c.tau_enc)
            .count();
        // Nearest rank: ⌈0.95·200⌉ = 190 distances are at or below τ_enc.
        assert_eq!(accepted, 190);
        let mut sorted = scores.mahalanobis_sq.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(c.tau_enc, sorted[189]);
        // The chi-square value of the same fit differs (2 dof at 0.95: 5.99).
        let chi = Calibration::fit(
            &config,
            1e-3,
            &encoded,
            labels.view(),
            CalibrationSettings {
                tau_enc: TauEncStatistic::ChiSquare,
                ..settings
            },
        )
        .unwrap();
        assert!((chi.tau_enc - 5.991_465).abs() < 1e-4, "{}", chi.tau_enc);
        assert_ne!(chi.tau_enc, c.tau_enc);
        // Everything else is the same fit.
        assert_eq!((chi.tau_dec, &chi.precisions), (c.tau_dec, &c.precisions));
        assert_eq!(c.tau_dec, 189.0);
    }

    #[test]
    fn the_tpr_rule_accepts_exactly_that_share_of_the_correctly_classified_images() {
        let (config, encoded, mut labels) = encodings();
        // Ten images carry the wrong label: they are misclassified and must not count.
        for i in 0..10 {
            labels[i * 20] = 1 - labels[i * 20];
        }
        let settings = CalibrationSettings {
            confidence: 0.9,
            tpr: Some(0.95),
            ..CalibrationSettings::DEFAULT
        };
        let c = Calibration::fit(&config, 1e-3, &encoded, labels.view(), settings).unwrap();
        let unscaled = Calibration::fit(
            &config,
            1e-3,
            &encoded,
            labels.view(),
            CalibrationSettings {
                tpr: None,
                ..settings
            },
        )
        .unwrap();
        let scores = c.score(&encoded, 2);
        let correct: Vec<usize> = (0..200)
            .filter(|&i| scores.predictions[i] == usize::from(labels[i]))
            .collect();
        assert_eq!(correct.len(), 190);
        let accepted = correct
            .iter()
            .filter(|&&i| c.accepts(scores.mahalanobis_sq[i], scores.reconstruction_errors[i]))
            .count();
        // Nearest rank: ⌈0.95·190⌉ = 181 of the 190 correctly classified images pass.
        assert_eq!(accepted, 181);
        // One factor scales both thresholds: their ratio is the unscaled fit's.
        let ratio = |c: &Calibration| f64::from(c.tau_enc) / f64::from(c.tau_dec);
        assert!((ratio(&c) / ratio(&unscaled) - 1.0).abs() < 1e-6);
        assert_ne!(c.tau_dec, unscaled.tau_dec);
        for bad in [0.0, 1.0, f64::NAN, -0.5] {
            let settings = CalibrationSettings {
                tpr: Some(bad),
                ..settings
            };
            assert!(
                matches!(settings.validate(), Err(CalibrationError::Tpr(_))),
                "{bad}"
            );
        }
    }
}
