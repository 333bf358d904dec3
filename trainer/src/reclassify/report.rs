//! The paper's reclassification figures from [`Outcome`]s: how many rejected clean test
//! samples are recovered (paper: 110 of 181 on MNIST, 97.97 % → 99.07 %), and Table 2, the
//! reclassification accuracy on FGSM samples.
//!
//! Every figure comes in two variants: *with* fooling rejection (a reclassified sample counts
//! as correct only if its winning code also passes both thresholds; the others stay
//! rejected) and *without* (every reclassified sample gets its label: paper §3.5, "if …
//! fooling samples are not expected to be encountered, one can choose not to reject samples
//! during reclassification").

use super::Outcome;
use crate::plot::svg::{LineChart, Series, PALETTE};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What reclassifying a set of samples gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Samples reclassified.
    pub reclassified: usize,
    /// Reclassified to their true label (no fooling rejection).
    pub correct: usize,
    /// Reclassified to their true label *and* passing both thresholds.
    pub correct_accepted: usize,
    /// Passing both thresholds after reclassification (any label).
    pub accepted: usize,
}

impl Recovery {
    /// Tallies `outcomes` against `labels` (one per outcome).
    pub fn tally(outcomes: &[Outcome], labels: &[usize]) -> Self {
        let mut r = Self {
            reclassified: outcomes.len(),
            ..Self::default()
        };
        for (o, &y) in outcomes.iter().zip(labels) {
            r.correct += usize::from(o.label == y);
            r.correct_accepted += usize::from(o.label == y && o.passes_thresholds);
            r.accepted += usize::from(o.passes_thresholds);
        }
        r
    }

    /// `correct / reclassified` (0 when nothing was reclassified).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct, self.reclassified)
    }

    /// `correct_accepted / reclassified`.
    pub fn accuracy_with_rejection(&self) -> f64 {
        ratio(self.correct_accepted, self.reclassified)
    }

    /// Accuracy on all `samples` once these reclassified samples (the rejected ones) join
    /// the `accepted_correct` samples accepted and right: `(accepted_correct + correct) /
    /// samples`, or with `correct_accepted` when `with_rejection` (fooling rejection on).
    pub fn accuracy_of_all(
        &self,
        accepted_correct: usize,
        samples: usize,
        with_rejection: bool,
    ) -> f64 {
        let recovered = if with_rejection {
            self.correct_accepted
        } else {
            self.correct
        };
        ratio(accepted_correct + recovered, samples)
    }
}

/// Rejected clean test samples, reclassified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanReport {
    /// Dataset name.
    pub dataset: String,
    /// Test samples.
    pub samples: usize,
    /// Correct by the encoder alone (no thresholds).
    pub correct_unthresholded: usize,
    /// Accepted and correct (classification with thresholds).
    pub accepted_correct: usize,
    /// Accepted and wrong.
    pub accepted_wrong: usize,
    /// Rejected by either threshold.
    pub rejected: usize,
    /// The rejected samples, reclassified.
    pub recovery: Recovery,
}

impl CleanReport {
    /// Accuracy with thresholds, before reclassification.
    pub fn accuracy_before(&self) -> f64 {
        ratio(self.accepted_correct, self.samples)
    }

    /// Accuracy after reclassifying the rejected samples, without fooling rejection.
    pub fn accuracy_after(&self) -> f64 {
        self.recovery
            .accuracy_of_all(self.accepted_correct, self.samples, false)
    }

    /// Accuracy after reclassifying the rejected samples, with fooling rejection.
    pub fn accuracy_after_with_rejection(&self) -> f64 {
        self.recovery
            .accuracy_of_all(self.accepted_correct, self.samples, true)
    }

    /// A Markdown table.
    pub fn markdown(&self) -> String {
        let r = &self.recovery;
        let n = self.samples;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| {} ({n} samples) | without fooling rejection | with fooling rejection |",
            self.dataset
        );
        let _ = writeln!(s, "|---|---:|---:|");
        let _ = writeln!(
            s,
            "| accuracy without thresholds | {} | |",
            pct(ratio(self.correct_unthresholded, n))
        );
        let _ = writeln!(
            s,
            "| accuracy with thresholds (before) | {} | |",
            pct(self.accuracy_before())
        );
        let _ = writeln!(s, "| rejected | {} | |", self.rejected);
        let _ = writeln!(
            s,
            "| recovered (correct after reclassification) | {} of {} | {} of {} |",
            r.correct, self.rejected, r.correct_accepted, self.rejected
        );
        let _ = writeln!(s, "| still rejected | 0 | {} |", self.rejected - r.accepted);
        let _ = writeln!(
            s,
            "| wrong in all (accepted wrong + reclassified wrong) | {} | {} |",
            self.accepted_wrong + (r.reclassified - r.correct),
            self.accepted_wrong + (r.accepted - r.correct_accepted)
        );
        let _ = writeln!(
            s,
            "| accuracy after | {} | {} |",
            pct(self.accuracy_after()),
            pct(self.accuracy_after_with_rejection())
        );
        s
    }
}

/// One row of Table 2: FGSM samples at one budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FgsmRow {
    /// L∞ budget ε.
    pub eps: f32,
    /// Adversarial samples (one per test sample).
    pub samples: usize,
    /// Correct by the encoder alone (no thresholds).
    pub correct_unthresholded: usize,
    /// Accepted and correct.
    pub accepted_correct: usize,
    /// Accepted and wrong (the attack succeeded against the defended model).
    pub accepted_wrong: usize,
    /// Rejected (detected) samples.
    pub rejected: usize,
    /// The rejected samples, reclassified. The paper's Table 2 figure ("accuracy") is read
    /// either as [`Recovery::accuracy`] of this (the rejected samples alone) or as
    /// [`FgsmRow::accuracy_after`] (every sample, the rejected ones reclassified).
    pub recovery: Recovery,
    /// Every adversarial sample reclassified (only when asked for).
    pub all: Option<Recovery>,
    /// The clean originals of the rejected samples, reclassified: how many of these digits
    /// the reclassifier gets right without any attack.
    pub unperturbed: Recovery,
    /// Every rejected sample on its own, in row order: which digits the reclassifier gets
    /// wrong, so that two models (or the attacked and clean digit) can be compared digit by
    /// digit.
    #[serde(default)]
    pub per_sample: Vec<RejectedSample>,
}

impl FgsmRow {
    /// Accuracy on every adversarial sample of the row once the rejected ones are
    /// reclassified (accepted and correct, or rejected and reclassified correct), without
    /// fooling rejection: the reading of the paper's Table 2 that matches how it reports
    /// clean recovery (§4, "improving the accuracy to 99.07 %").
    pub fn accuracy_after(&self) -> f64 {
        self.recovery
            .accuracy_of_all(self.accepted_correct, self.samples, false)
    }

    /// [`Self::accuracy_after`] with fooling rejection: a reclassified sample counts only if
    /// its winning code also passes both thresholds.
    pub fn accuracy_after_with_rejection(&self) -> f64 {
        self.recovery
            .accuracy_of_all(self.accepted_correct, self.samples, true)
    }
}

/// One rejected adversarial sample of a Table 2 row and what reclassification made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectedSample {
    /// Row of the evaluated set: its index in the split (`--samples N` takes the split's first N).
    pub index: usize,
    /// Its true label.
    pub label: usize,
    /// The label reclassification gave the attacked sample.
    pub reclassified: usize,
    /// Whether that winning code also passes both thresholds (else it stays rejected as
    /// fooling, when fooling rejection is on).
    pub passes_thresholds: bool,
    /// The label reclassification gives the clean original of the same digit.
    pub unperturbed: usize,
    /// The encoder's nearest-mean label for the attacked sample (the prediction the
    /// thresholds rejected); `None` in tables written before it was recorded.
    #[serde(default)]
    pub encoder_label: Option<usize>,
    /// Each start's best loss `‖x − g(z)‖²` for the attacked sample, by class: how close the
    /// true class came to the winner; absent (empty) in older tables.
    #[serde(default)]
    pub start_losses: Vec<f32>,
}

/// Table 2 for one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FgsmTable {
    /// Dataset name.
    pub dataset: String,
    /// One row per budget.
    pub rows: Vec<FgsmRow>,
}

/// The paper's Table 2 (MNIST): reclassification accuracy per ε.
pub const PAPER_TABLE2: [(f32, f64); 5] = [
    (0.06, 0.97),
    (0.12, 0.93),
    (0.18, 0.91),
    (0.24, 0.87),
    (0.30, 0.87),
];

impl FgsmTable {
    /// A Markdown table, with the paper's figure where it has one.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| ε | samples | encoder acc. (no thresholds) | accepted: correct / wrong | rejected | reclassified correct (of rejected) | with fooling rejection | the same digits unperturbed | accuracy on all samples after reclassification: without / with fooling rejection | all samples reclassified | paper |"
        );
        let _ = writeln!(
            s,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.rows {
            let paper = paper_table2(r.eps).map_or(String::from("—"), pct);
            let all = r.all.map_or(String::from("—"), |a| {
                format!("{} ({}/{})", pct(a.accuracy()), a.correct, a.reclassified)
            });
            let _ = writeln!(
                s,
                "| {:.2} | {} | {} | {} / {} | {} | {} ({}/{}) | {} | {} ({}/{}) | {} / {} | {} | {} |",
                r.eps,
                r.samples,
                pct(ratio(r.correct_unthresholded, r.samples)),
                r.accepted_correct,
                r.accepted_wrong,
                r.rejected,
                pct(r.recovery.accuracy()),
                r.recovery.correct,
                r.rejected,
                pct(r.recovery.accuracy_with_rejection()),
                pct(r.unperturbed.accuracy()),
                r.unperturbed.correct,
                r.unperturbed.reclassified,
                pct(r.accuracy_after()),
                pct(r.accuracy_after_with_rejection()),
                all,
                paper
            );
        }
        s
    }

    /// Table 2 as a chart: accuracy (%) against ε for every sample with the rejected ones
    /// reclassified, for the rejected samples alone, for the same digits unperturbed (the
    /// reclassifier's ceiling on them), and the paper's figures where the table has their ε.
    /// Rows that rejected nothing have no rejected-sample points.
    pub fn chart(&self) -> LineChart {
        let points = |f: &dyn Fn(&FgsmRow) -> Option<f64>| -> Vec<(f64, f64)> {
            self.rows
                .iter()
                .filter_map(|r| f(r).map(|a| (f64::from(r.eps), 100.0 * a)))
                .collect()
        };
        let rejected = |pick: fn(&FgsmRow) -> &Recovery| {
            move |r: &FgsmRow| (r.rejected > 0).then(|| pick(r).accuracy())
        };
        let paper = points(&|r| paper_table2(r.eps));
        let line = |name: &str, points: Vec<(f64, f64)>, color: &'static str| Series {
            name: name.into(),
            points,
            color,
            dots: true,
            error_bars: Vec::new(),
        };
        let mut series = vec![
            line(
                "every sample, the rejected ones reclassified",
                points(&|r| Some(r.accuracy_after())),
                PALETTE[0],
            ),
            line(
                "the rejected samples alone, reclassified",
                points(&rejected(|r| &r.recovery)),
                PALETTE[2],
            ),
            line(
                "the same rejected digits unperturbed (ceiling)",
                points(&rejected(|r| &r.unperturbed)),
                PALETTE[7],
            ),
        ];
        if !paper.is_empty() {
            series.push(line("paper, Table 2", paper, PALETTE[1]));
        }
        let low = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(100.0f64, f64::min);
        // Whole tens below the lowest point; headroom above 100 % keeps the legend clear.
        let y0 = (10.0 * (low / 10.0).floor() - 10.0).max(0.0);
        let x1 = self
            .rows
            .iter()
            .map(|r| f64::from(r.eps))
            .fold(0.0, f64::max);
        LineChart {
            title: format!("Reclassification of FGSM samples on {}", self.dataset),
            x_label: "ε (L∞ budget of FGSM against the encoder)".into(),
            y_label: "accuracy (%)".into(),
            x_range: (0.0, 1.05 * x1.max(0.01)),
            y_range: (y0, 100.0 + 0.35 * (100.0 - y0)),
            series,
            markers: Vec::new(),
        }
    }
}

/// The paper's Table 2 accuracy at budget `eps`, if the paper has that budget.
fn paper_table2(eps: f32) -> Option<f64> {
    PAPER_TABLE2
        .iter()
        .find(|(e, _)| (e - eps).abs() < 1e-6)
        .map(|&(_, a)| a)
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A percentage with two decimals.
pub fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(label: usize, passes: bool) -> Outcome {
        Outcome {
            label,
            start: 0,
            latent: vec![],
            reconstruction_error: 0.0,
            mahalanobis_sq: 0.0,
            start_losses: vec![],
            start_steps: vec![],
            passes_thresholds: passes,
            accepted: passes,
        }
    }

    #[test]
    fn tallies_and_accuracies() {
        let o = [outcome(1, true), outcome(2, false), outcome(3, true)];
        let r = Recovery::tally(&o, &[1, 2, 0]);
        assert_eq!(
            r,
            Recovery {
                reclassified: 3,
                correct: 2,
                correct_accepted: 1,
                accepted: 2
            }
        );
        let c = CleanReport {
            dataset: "d".into(),
            samples: 100,
            correct_unthresholded: 98,
            accepted_correct: 95,
            accepted_wrong: 2,
            rejected: 3,
            recovery: r,
        };
        assert!((c.accuracy_before() - 0.95).abs() < 1e-12);
        assert!((c.accuracy_after() - 0.97).abs() < 1e-12);
        assert!((c.accuracy_after_with_rejection() - 0.96).abs() < 1e-12);
        assert!(c
            .markdown()
            .contains("| recovered (correct after reclassification) | 2 of 3 | 1 of 3 |"));
    }

    #[test]
    fn fgsm_row_accuracy_counts_accepted_and_reclassified_samples() {
        let recovery = Recovery::tally(
            &[outcome(1, true), outcome(2, false), outcome(3, true)],
            &[1, 2, 0],
        );
        let row = FgsmRow {
            eps: 0.06,
            samples: 10,
            correct_unthresholded: 9,
            accepted_correct: 6,
            accepted_wrong: 1,
            rejected: 3,
            recovery,
            all: None,
            unperturbed: recovery,
            per_sample: vec![],
        };
        // 6 accepted correct + 2 of the 3 rejected reclassified correct (1 of them passing
        // the thresholds).
        assert!((row.accuracy_after() - 0.8).abs() < 1e-12);
        assert!((row.accuracy_after_with_rejection() - 0.7).abs() < 1e-12);
        let table = FgsmTable {
            dataset: "d".into(),
            rows: vec![row],
        };
        let chart = table.chart();
        let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "every sample, the rejected ones reclassified",
                "the rejected samples alone, reclassified",
                "the same rejected digits unperturbed (ceiling)",
                "paper, Table 2"
            ]
        );
        let at = |i: usize| chart.series[i].points[0];
        assert!((at(0).1 - 80.0).abs() < 1e-9 && (at(1).1 - 200.0 / 3.0).abs() < 1e-9);
        assert!((at(3).0 - 0.06).abs() < 1e-6 && (at(3).1 - 97.0).abs() < 1e-9);
        assert_eq!(chart.y_range.0, 50.0);
        assert_eq!(chart.to_svg().matches("<polyline").count(), 4);
        let text = table.markdown();
        assert!(
            text.contains(
                "| 66.67 % (2/3) | 33.33 % | 66.67 % (2/3) | 80.00 % / 70.00 % | — | 97.00 % |"
            ),
            "{text}"
        );
        // A row that rejected nothing has a whole-set point but no rejected-sample points
        // (not a 0 % that was never measured).
        let mut quiet = table.rows[0].clone();
        quiet.eps = 0.3;
        quiet.rejected = 0;
        quiet.recovery = Recovery::default();
        quiet.unperturbed = Recovery::default();
        let both = FgsmTable {
            dataset: "d".into(),
            rows: vec![table.rows[0].clone(), quiet],
        };
        let lengths: Vec<usize> = both.chart().series.iter().map(|s| s.points.len()).collect();
        assert_eq!(lengths, [2, 1, 1, 2]);
    }
}
