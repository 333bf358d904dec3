//! Selective-classification metrics: the paper's Table 1 columns, confusion matrices and
//! risk–coverage curves.

use crate::calibrate::{Calibration, Scores};
use serde::{Deserialize, Serialize};

/// Table 1's columns for one set of inputs. Accuracy, error and rejection are fractions of all
/// inputs and sum to one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectiveMetrics {
    /// Number of inputs.
    pub samples: usize,
    /// Accuracy of the nearest class mean without thresholding.
    pub clean_accuracy: f64,
    /// Accepted and correct.
    pub accuracy: f64,
    /// Accepted and wrong.
    pub error: f64,
    /// Rejected by either threshold.
    pub rejection: f64,
    /// Rejected because the squared Mahalanobis distance exceeded τ_enc.
    pub rejected_by_latent: f64,
    /// Rejected because the reconstruction error exceeded τ_dec.
    pub rejected_by_reconstruction: f64,
    /// Error among accepted inputs (selective risk).
    pub selective_risk: f64,
}

impl SelectiveMetrics {
    /// Metrics of `scores` against `labels` under the thresholds of `calibration`.
    pub fn measure(scores: &Scores, labels: &[usize], calibration: &Calibration) -> Self {
        let n = labels.len();
        let mut counts = [0usize; 5]; // clean correct, accepted correct, accepted wrong, latent, rec
        for (i, &label) in labels.iter().enumerate() {
            let correct = scores.predictions[i] == label;
            let latent_ok = scores.mahalanobis_sq[i] <= calibration.tau_enc;
            let rec_ok = scores.reconstruction_errors[i] <= calibration.tau_dec;
            counts[0] += usize::from(correct);
            if latent_ok && rec_ok {
                counts[if correct { 1 } else { 2 }] += 1;
            }
            counts[3] += usize::from(!latent_ok);
            counts[4] += usize::from(!rec_ok);
        }
        let frac = |k: usize| k as f64 / n.max(1) as f64;
        let accepted = counts[1] + counts[2];
        Self {
            samples: n,
            clean_accuracy: frac(counts[0]),
            accuracy: frac(counts[1]),
            error: frac(counts[2]),
            rejection: frac(n - accepted),
            rejected_by_latent: frac(counts[3]),
            rejected_by_reconstruction: frac(counts[4]),
            selective_risk: counts[2] as f64 / accepted.max(1) as f64,
        }
    }
}

/// `matrix[true][predicted]` counts; with `accepted`, rejected inputs go to an extra last
/// column.
pub fn confusion_matrix(
    predictions: &[usize],
    labels: &[usize],
    classes: usize,
    accepted: Option<&[bool]>,
) -> Vec<Vec<usize>> {
    let columns = classes + usize::from(accepted.is_some());
    let mut m = vec![vec![0; columns]; classes];
    for (i, (&p, &l)) in predictions.iter().zip(labels).enumerate() {
        let rejected = accepted.is_some_and(|a| !a[i]);
        m[l][if rejected { classes } else { p }] += 1;
    }
    m
}

/// One point of a risk–coverage curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Score threshold (inputs with score ≤ threshold are accepted).
    pub threshold: f64,
    /// Fraction accepted.
    pub coverage: f64,
    /// Error among accepted inputs.
    pub risk: f64,
}

/// The risk–coverage curve of a rejection score: accept the inputs whose score is at most a
/// threshold, sweeping the threshold over every distinct score (from full rejection to full
/// coverage).
pub fn risk_coverage(score: &[f64], correct: &[bool]) -> Vec<CurvePoint> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let n = score.len().max(1) as f64;
    let mut points = vec![CurvePoint {
        threshold: f64::NEG_INFINITY,
        coverage: 0.0,
        risk: 0.0,
    }];
    let mut wrong = 0usize;
    for (k, &i) in order.iter().enumerate() {
        wrong += usize::from(!correct[i]);
        let last_of_tie = order.get(k + 1).is_none_or(|&j| score[j] != score[i]);
        if last_of_tie {
            points.push(CurvePoint {
                threshold: score[i],
                coverage: (k + 1) as f64 / n,
                risk: wrong as f64 / (k + 1) as f64,
            });
        }
    }
    points
}

/// Area under the ROC curve of `score` separating `positive` inputs (higher score = more
/// positive), with ties counted half (Mann–Whitney U).
pub fn roc_auc(score: &[f64], positive: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let pos = positive.iter().filter(|&&p| p).count();
    let neg = positive.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut k = 0;
    while k < order.len() {
        let mut end = k;
        while end + 1 < order.len() && score[order[end + 1]] == score[order[k]] {
            end += 1;
        }
        let mid_rank = (k + end) as f64 / 2.0 + 1.0;
        rank_sum += (k..=end).filter(|&j| positive[order[j]]).count() as f64 * mid_rank;
        k = end + 1;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos * neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_coverage_walks_from_zero_to_full_coverage() {
        let points = risk_coverage(&[0.1, 0.4, 0.2, 0.9], &[true, false, true, false]);
        let cov: Vec<f64> = points.iter().map(|p| p.coverage).collect();
        assert_eq!(cov, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(points[2].risk, 0.0);
        assert_eq!(points[3].risk, 1.0 / 3.0);
        assert_eq!(points[4].risk, 0.5);
    }

    #[test]
    fn ties_share_one_point() {
        let points = risk_coverage(&[1.0, 1.0, 2.0], &[true, false, true]);
        assert_eq!(points.len(), 3);
        assert_eq!(points[1].coverage, 2.0 / 3.0);
    }

    #[test]
    fn auc_of_perfect_and_inverted_scores() {
        let pos = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &pos), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &pos), Some(0.0));
        assert_eq!(roc_auc(&[0.5; 4], &pos), Some(0.5));
        assert_eq!(roc_auc(&[0.5; 2], &[true, true]), None);
    }

    #[test]
    fn confusion_matrix_puts_rejections_last() {
        let m = confusion_matrix(&[0, 1, 1], &[0, 0, 1], 2, Some(&[true, false, true]));
        assert_eq!(m, vec![vec![1, 0, 1], vec![0, 1, 0]]);
    }
}
