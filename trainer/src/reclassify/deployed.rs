//! The decision with reclassification as deployed (classify; when rejected, reclassify and
//! accept the best code if it passes both thresholds), and its worst case per input over a
//! security report's attacks and the attack through reclassification ([`super::attack`]).
//!
//! An input the classifier accepts keeps the classifier's verdict, so every input a report's
//! attack broke (accepted and misclassified) stays broken under this decision; the attack
//! through reclassification adds the inputs it breaks by the second stage.

use super::{autograd, ReclassifyError, ReclassifySettings};
use crate::attack::metrics::{clean_metrics, correctly_classified, verdicts, Verdict, WorstCase};
use crate::attack::report::{linf_worst_cases, SecurityReport};
use crate::attack::results::BoundedRun;
use crate::eval::metrics::SelectiveMetrics;
use crate::trained::TrainedModel;
use dfdx::prelude::*;
use ndarray::{ArrayView2, Axis as NdAxis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The deployed decision with reclassification on every row of `images`: the classifier's
/// verdict where it accepts, the reclassification's (label of the best code, accepted when it
/// passes both thresholds) where it rejects.
pub fn deployed_verdicts<D: Device<f32>>(
    model: &TrainedModel<D>,
    images: ArrayView2<f32>,
    settings: &ReclassifySettings,
) -> Result<Vec<Verdict>, ReclassifyError> {
    let mut decided = verdicts(model, images);
    let rejected: Vec<usize> = (0..decided.len())
        .filter(|&i| !decided[i].accepted)
        .collect();
    let outcomes =
        autograd::reclassify(model, images.select(NdAxis(0), &rejected).view(), settings)?;
    for (&i, outcome) in rejected.iter().zip(outcomes) {
        decided[i] = Verdict {
            prediction: outcome.label,
            mahalanobis_sq: outcome.mahalanobis_sq,
            reconstruction_error: outcome.reconstruction_error,
            accepted: outcome.accepted,
        };
    }
    Ok(decided)
}

/// The worst case per input of the decision with reclassification.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeployedWorstCase {
    /// The model file.
    pub model: String,
    /// The report whose attacks are combined.
    pub report: String,
    /// The whole test split, unattacked, under the decision with reclassification.
    pub clean_test: SelectiveMetrics,
    /// The worst case at each budget of the attack through reclassification.
    pub worst_case: Vec<WorstCase>,
    /// The same budgets without the attack through reclassification (the report's attacks
    /// only), for comparison.
    pub report_worst_case: Vec<WorstCase>,
}

impl DeployedWorstCase {
    /// Combines `report`'s attacks with `through` (the attack through reclassification, whose
    /// budgets are the table's) for `model` on its test split (`images`, `labels`), the clean
    /// split judged by the decision with reclassification under `settings`.
    pub fn measure<D: Device<f32>>(
        model: &TrainedModel<D>,
        model_name: &str,
        (report_name, report): (&str, &SecurityReport),
        through: &BoundedRun,
        (images, labels): (ArrayView2<f32>, &[usize]),
        settings: &ReclassifySettings,
    ) -> Result<Self, ReclassifyError> {
        let clean_correct = correctly_classified(&verdicts(model, images), labels);
        let clean = deployed_verdicts(model, images, settings)?;
        let budgets: Vec<f64> = through.points.iter().map(|p| p.eps).collect();
        // The report's attacks on the inputs this attack covered only, so that both columns
        // count the same inputs.
        let covered: BTreeSet<usize> = through.outcomes.iter().flatten().map(|o| o.index).collect();
        let mut runs = report.bounded.clone();
        for run in &mut runs {
            for outcomes in &mut run.outcomes {
                outcomes.retain(|o| covered.contains(&o.index));
            }
        }
        let report_worst_case = linf_worst_cases(&runs, &budgets, &clean_correct);
        runs.push(through.clone());
        Ok(Self {
            model: model_name.to_owned(),
            report: report_name.to_owned(),
            clean_test: clean_metrics(&clean, labels, &model.calibration),
            worst_case: linf_worst_cases(&runs, &budgets, &clean_correct),
            report_worst_case,
        })
    }

    /// The Markdown table.
    pub fn markdown(&self) -> String {
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        let c = &self.clean_test;
        let mut out = String::from("# Worst case of the decision with reclassification\n\n");
        let _ = writeln!(out, "Model `{}`; the attacks of `{}` combined with the attack through reclassification. An input counts as broken when the decision with reclassification accepts it with a wrong label.\n", self.model, self.report);
        let _ = writeln!(out, "Clean test split ({} images) under the decision with reclassification: accuracy {} (every label, accepted or not: {}), error {}, rejection {}.\n", c.samples, pct(c.accuracy), pct(c.clean_accuracy), pct(c.error), pct(c.rejection));
        let _ = writeln!(out, "| ε ≤ | inputs | broken: report's attacks | broken: with the attack through reclassification | attacker success | RErr (of correct) |\n|---:|---:|---:|---:|---:|---:|");
        for (w, r) in self.worst_case.iter().zip(&self.report_worst_case) {
            let rerr = w.robust_error.map_or("–".into(), |e| {
                format!("{} ({})", pct(e), w.correct_inputs)
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                w.eps,
                w.samples,
                r.attacker_wins,
                w.attacker_wins,
                pct(w.attacker_success_rate),
                rerr
            );
        }
        out
    }
}
