//! How the deployed model sees attacked inputs: per-input verdicts, per-attack accuracy /
//! error / rejection, detection ROC AUCs, and the worst case per input across attacks.
//!
//! The attacker wins on an input only when the model accepts it (both thresholds pass) and
//! predicts a class other than the true one.

use crate::calibrate::{Calibration, Scores};
use crate::eval::metrics::{roc_auc, SelectiveMetrics};
use crate::infer;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::project::{distance, Norm};

/// The model's decision on one input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Nearest class mean.
    pub prediction: usize,
    /// Squared Mahalanobis distance to the predicted class mean.
    pub mahalanobis_sq: f32,
    /// ||x − g(f(x))||².
    pub reconstruction_error: f32,
    /// Both thresholds pass.
    pub accepted: bool,
}

/// The verdict for latent code `z` with reconstruction error `rec`.
pub fn judge(calibration: &Calibration, classes: usize, z: ArrayView1<f32>, rec: f32) -> Verdict {
    let prediction = (0..classes)
        .fold((0, f32::NEG_INFINITY), |best, k| {
            if z[k] > best.1 {
                (k, z[k])
            } else {
                best
            }
        })
        .0;
    let mahalanobis_sq = calibration.mahalanobis_sq(z, prediction);
    Verdict {
        prediction,
        mahalanobis_sq,
        reconstruction_error: rec,
        accepted: calibration.accepts(mahalanobis_sq, rec),
    }
}

/// The indices whose clean verdict names the true class (nearest mean, no thresholds): the
/// inputs the robust error counts.
pub fn correctly_classified(verdicts: &[Verdict], labels: &[usize]) -> BTreeSet<usize> {
    (0..labels.len().min(verdicts.len()))
        .filter(|&i| verdicts[i].prediction == labels[i])
        .collect()
}

/// Verdicts for every row of `images`, exactly as `gmvae eval` scores inputs.
pub fn verdicts<D: Device<f32>>(model: &TrainedModel<D>, images: ArrayView2<f32>) -> Vec<Verdict> {
    let encoded = infer::encode_and_reconstruct(&model.network, &model.params, images);
    let scores = model
        .calibration
        .score(&encoded, model.network.config().classes);
    (0..images.nrows())
        .map(|i| Verdict {
            prediction: scores.predictions[i],
            mahalanobis_sq: scores.mahalanobis_sq[i],
            reconstruction_error: scores.reconstruction_errors[i],
            accepted: model
                .calibration
                .accepts(scores.mahalanobis_sq[i], scores.reconstruction_errors[i]),
        })
        .collect()
}

/// One attacked input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleOutcome {
    /// Index of the clean input in the test split.
    pub index: usize,
    /// Its true class.
    pub label: usize,
    /// The model's verdict on the adversarial input.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// ||x' − x||∞.
    pub linf: f32,
    /// ||x' − x||₂.
    pub l2: f32,
}

impl SampleOutcome {
    /// Accepted and misclassified.
    pub fn attacker_wins(&self) -> bool {
        self.verdict.accepted && self.verdict.prediction != self.label
    }
}

/// The outcomes of adversarial `adv` against its clean rows `clean` (test indices `indices`,
/// true `labels`) from verdicts already reached, one per row of `adv` (by a decision other
/// than the classifier's alone, say).
pub fn judged_outcomes(
    verdicts: Vec<Verdict>,
    clean: ArrayView2<f32>,
    adv: ArrayView2<f32>,
    labels: &[usize],
    indices: &[usize],
) -> Vec<SampleOutcome> {
    verdicts
        .into_iter()
        .enumerate()
        .map(|(i, verdict)| SampleOutcome {
            index: indices[i],
            label: labels[i],
            verdict,
            linf: distance(Norm::Linf, adv.row(i), clean.row(i)),
            l2: distance(Norm::L2, adv.row(i), clean.row(i)),
        })
        .collect()
}

/// Detection ROC AUC of each rejection score: clean inputs (negatives) against adversarial
/// inputs that fool the unthresholded classifier (positives). `None` when either set is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionAuc {
    /// Squared Mahalanobis distance d².
    pub latent: Option<f64>,
    /// Reconstruction error.
    pub reconstruction: Option<f64>,
    /// max(d²/τ_enc, e/τ_dec), the score the two thresholds jointly implement.
    pub combined: Option<f64>,
    /// Number of positives (misclassified adversarial inputs).
    pub positives: usize,
}

/// The AUCs of `adv` against `clean`.
pub fn detection_auc(clean: &[Verdict], adv: &[SampleOutcome], cal: &Calibration) -> DetectionAuc {
    let fooled: Vec<Verdict> = adv
        .iter()
        .filter(|o| o.verdict.prediction != o.label)
        .map(|o| o.verdict)
        .collect();
    let mut positive = vec![false; clean.len()];
    positive.extend(std::iter::repeat_n(true, fooled.len()));
    let all: Vec<&Verdict> = clean.iter().chain(&fooled).collect();
    let auc = |f: &dyn Fn(&Verdict) -> f64| {
        let score: Vec<f64> = all.iter().map(|v| f(v)).collect();
        roc_auc(&score, &positive)
    };
    let (te, td) = (f64::from(cal.tau_enc), f64::from(cal.tau_dec));
    DetectionAuc {
        latent: auc(&|v| f64::from(v.mahalanobis_sq)),
        reconstruction: auc(&|v| f64::from(v.reconstruction_error)),
        combined: auc(&|v| {
            (f64::from(v.mahalanobis_sq) / te).max(f64::from(v.reconstruction_error) / td)
        }),
        positives: fooled.len(),
    }
}

/// The model's metrics on one attack at one budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackPoint {
    /// Attack name.
    pub attack: String,
    /// Norm of the budget.
    pub norm: Norm,
    /// Budget ε.
    pub eps: f64,
    /// Accuracy (accepted and right), error (accepted and wrong = attacker wins) and
    /// rejection on the adversarial inputs, as fractions of all of them.
    pub metrics: SelectiveMetrics,
    /// Detection AUCs against the clean inputs.
    pub auc: DetectionAuc,
    /// Mean ||δ||∞ actually used.
    pub mean_linf: f64,
    /// Largest ||δ||∞.
    pub max_linf: f64,
    /// Mean ||δ||₂.
    pub mean_l2: f64,
    /// Largest ||δ||₂.
    pub max_l2: f64,
}

impl AttackPoint {
    /// Summarises `outcomes` of attack `attack` at budget `eps`; `clean` are the verdicts on
    /// the clean inputs, for the AUCs.
    pub fn new(
        attack: &str,
        norm: Norm,
        eps: f64,
        outcomes: &[SampleOutcome],
        clean: &[Verdict],
        cal: &Calibration,
    ) -> Self {
        let labels: Vec<usize> = outcomes.iter().map(|o| o.label).collect();
        let metrics = SelectiveMetrics::measure(
            &to_scores(outcomes.iter().map(|o| &o.verdict)),
            &labels,
            cal,
        );
        let n = outcomes.len().max(1) as f64;
        let stat = |f: &dyn Fn(&SampleOutcome) -> f32| {
            let values: Vec<f64> = outcomes.iter().map(|o| f64::from(f(o))).collect();
            (
                values.iter().sum::<f64>() / n,
                values.iter().copied().fold(0.0, f64::max),
            )
        };
        let (mean_linf, max_linf) = stat(&|o| o.linf);
        let (mean_l2, max_l2) = stat(&|o| o.l2);
        Self {
            attack: attack.to_owned(),
            norm,
            eps,
            metrics,
            auc: detection_auc(clean, outcomes, cal),
            mean_linf,
            max_linf,
            mean_l2,
            max_l2,
        }
    }
}

/// Verdicts as the evaluation module's [`Scores`].
pub fn to_scores<'a>(verdicts: impl Iterator<Item = &'a Verdict>) -> Scores {
    let mut scores = Scores {
        predictions: Vec::new(),
        mahalanobis_sq: Vec::new(),
        reconstruction_errors: Vec::new(),
    };
    for v in verdicts {
        scores.predictions.push(v.prediction);
        scores.mahalanobis_sq.push(v.mahalanobis_sq);
        scores.reconstruction_errors.push(v.reconstruction_error);
    }
    scores
}

/// Metrics of the clean inputs, for the "clean rejection" line.
pub fn clean_metrics(clean: &[Verdict], labels: &[usize], cal: &Calibration) -> SelectiveMetrics {
    SelectiveMetrics::measure(&to_scores(clean.iter()), labels, cal)
}

/// The worst case per input over a set of attack results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorstCase {
    /// L∞ budget the included attacks stay within.
    pub eps: f64,
    /// Inputs attacked by every included attack.
    pub samples: usize,
    /// Inputs on which at least one included attack won (accepted and misclassified).
    pub attacker_wins: usize,
    /// `attacker_wins / samples`.
    pub attacker_success_rate: f64,
    /// Fraction of inputs that every included attack left accepted and correctly classified
    /// (robust accuracy; a rejection counts as a failure to classify, not as an attacker win).
    pub robust_accuracy: f64,
    /// The attacks (with budgets) that were combined.
    pub attacks: Vec<String>,
    /// Inputs counted whose clean version the model classifies correctly (nearest mean, no
    /// thresholds).
    #[serde(default)]
    pub correct_inputs: usize,
    /// Robust error with rejection (CCAT's RErr): the share of those correctly classified
    /// inputs that some attack leaves accepted and misclassified; `None` without clean
    /// verdicts.
    #[serde(default)]
    pub robust_error: Option<f64>,
}

impl WorstCase {
    /// The 95 % interval of the attacker success rate for a sample of this size
    /// ([`wilson_interval`]); `None` when no input was attacked.
    pub fn success_interval(&self) -> Option<(f64, f64)> {
        wilson_interval(self.attacker_wins, self.samples)
    }
}

/// The standard normal quantile of 0.975: two-sided 95 % intervals.
const Z_95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval (95 %) of a rate of `successes` in `trials` independent inputs:
/// how far the rate measured on this sample may lie from the rate on the whole population.
/// `None` for zero trials (or more successes than trials).
pub fn wilson_interval(successes: usize, trials: usize) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let scale = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / scale;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / scale;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// The inputs behind a [`WorstCase`], by test index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorstCaseInputs {
    /// The inputs every attack covered.
    pub attacked: BTreeSet<usize>,
    /// Those of them on which some attack won (accepted and misclassified).
    pub broken: BTreeSet<usize>,
}

/// Which inputs every attack of `runs` covered, and on which of them some attack won: the
/// sets [`worst_case`] counts.
pub fn worst_case_inputs(runs: &[(String, &[SampleOutcome])]) -> WorstCaseInputs {
    let mut common: Option<BTreeSet<usize>> = None;
    for (_, outcomes) in runs {
        let set: BTreeSet<usize> = outcomes.iter().map(|o| o.index).collect();
        common = Some(match common {
            None => set,
            Some(c) => c.intersection(&set).copied().collect(),
        });
    }
    let attacked = common.unwrap_or_default();
    let broken = runs
        .iter()
        .flat_map(|(_, o)| o.iter())
        .filter(|o| o.attacker_wins() && attacked.contains(&o.index))
        .map(|o| o.index)
        .collect();
    WorstCaseInputs { attacked, broken }
}

/// Combines per-input outcomes of several attacks (`(name, outcomes)`): an input counts as
/// broken when any of them wins on it; only inputs that every attack covered are counted.
/// `clean_correct` holds the test indices the model classifies correctly when clean (empty:
/// no robust error is computed).
pub fn worst_case(
    eps: f64,
    runs: &[(String, &[SampleOutcome])],
    clean_correct: &BTreeSet<usize>,
) -> WorstCase {
    let WorstCaseInputs {
        attacked: common,
        broken,
    } = worst_case_inputs(runs);
    let mut still_right: BTreeSet<usize> = common.clone();
    for (_, outcomes) in runs {
        for o in outcomes.iter() {
            if !(o.verdict.accepted && o.verdict.prediction == o.label) {
                still_right.remove(&o.index);
            }
        }
    }
    let n = common.len().max(1) as f64;
    let correct: BTreeSet<usize> = common.intersection(clean_correct).copied().collect();
    let robust_error = (!correct.is_empty())
        .then(|| correct.intersection(&broken).count() as f64 / correct.len() as f64);
    WorstCase {
        eps,
        samples: common.len(),
        attacker_wins: broken.len(),
        attacker_success_rate: broken.len() as f64 / n,
        robust_accuracy: still_right.len() as f64 / n,
        attacks: runs.iter().map(|(name, _)| name.clone()).collect(),
        correct_inputs: correct.len(),
        robust_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_the_closed_form() {
        // Reference values from the closed form in double precision (Python, z = 1.95996…).
        let close = |(lo, hi): (f64, f64), (a, b): (f64, f64)| {
            assert!(
                (lo - a).abs() < 1e-12 && (hi - b).abs() < 1e-12,
                "{lo} {hi}"
            );
        };
        close(
            wilson_interval(36, 500).unwrap(),
            (0.052_458_031_418_126_2, 0.098_068_404_016_962_53),
        );
        close(
            wilson_interval(0, 10).unwrap(),
            (0.0, 0.277_532_799_862_889_2),
        );
        close(
            wilson_interval(10, 10).unwrap(),
            (0.722_467_200_137_110_7, 1.0),
        );
        assert_eq!(wilson_interval(0, 0), None);
        assert_eq!(wilson_interval(3, 2), None);
        // More inputs, a narrower interval around the same rate.
        let (a, b) = wilson_interval(36, 500).unwrap();
        let (c, d) = wilson_interval(360, 5000).unwrap();
        assert!(c > a && d < b);
    }

    fn outcome(index: usize, label: usize, prediction: usize, accepted: bool) -> SampleOutcome {
        SampleOutcome {
            index,
            label,
            verdict: Verdict {
                prediction,
                mahalanobis_sq: 1.0,
                reconstruction_error: 1.0,
                accepted,
            },
            linf: 0.0,
            l2: 0.0,
        }
    }

    #[test]
    fn worst_case_counts_an_input_once_and_only_when_accepted_and_wrong() {
        let a = [
            outcome(0, 1, 2, true),  // win
            outcome(1, 1, 2, false), // rejected: no win
            outcome(2, 3, 3, true),  // right
            outcome(9, 0, 5, true),  // not attacked by `b`: ignored
        ];
        let b = [
            outcome(0, 1, 4, true), // win again, same input
            outcome(1, 1, 1, true), // right
            outcome(2, 3, 7, true), // win
        ];
        let runs = [("a".into(), &a[..]), ("b".into(), &b[..])];
        let w = worst_case(0.3, &runs, &BTreeSet::new());
        assert_eq!((w.samples, w.attacker_wins), (3, 2));
        assert!((w.attacker_success_rate - 2.0 / 3.0).abs() < 1e-12);
        // Input 1 was rejected by `a`, input 2 broken by `b`: none stays right under both.
        assert_eq!(w.robust_accuracy, 0.0);
        assert_eq!((w.correct_inputs, w.robust_error), (0, None));
        // Robust error counts only inputs the model got right when clean (here 1, 2 and the
        // uncovered 9): input 2 is broken, input 1 is not.
        let correct: BTreeSet<usize> = [1, 2, 9].into();
        let w = worst_case(0.3, &runs, &correct);
        assert_eq!(w.correct_inputs, 2);
        assert_eq!(w.robust_error, Some(0.5));
    }
}
