//! The whole security report of a model: every attack's results, the worst case per input
//! across the L∞ attacks, as `report.json` and `REPORT.md`.

use super::error::{write_file, write_json};
use super::metrics::{worst_case, SampleOutcome, WorstCase};
use super::project::Norm;
use super::results::{BoundedRun, TargetedRun};
use super::AttackError;
use crate::eval::metrics::SelectiveMetrics;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// `["fgsm ε=0", "fgsm ε=0.1", "mim ε=0.3"]` → `fgsm (ε 0–0.1, 2 budgets), mim (ε 0.3)`.
fn group_attacks(names: &[String]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for name in names {
        let (attack, eps) = name.split_once(" ε=").unwrap_or((name.as_str(), ""));
        match groups.iter_mut().find(|(a, _)| a == attack) {
            Some((_, budgets)) => budgets.push(eps.to_owned()),
            None => groups.push((attack.to_owned(), vec![eps.to_owned()])),
        }
    }
    groups
        .iter()
        .map(|(attack, budgets)| match budgets.as_slice() {
            [one] => format!("{attack} (ε {one})"),
            [first, .., last] => format!("{attack} (ε {first}–{last}, {} budgets)", budgets.len()),
            [] => attack.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything `gmvae report` measured for one model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecurityReport {
    /// The model file.
    pub model: String,
    /// Dataset of the test split.
    pub dataset: String,
    /// τ_enc.
    pub tau_enc: f32,
    /// τ_dec.
    pub tau_dec: f32,
    /// The whole test split, unattacked.
    pub clean_test: SelectiveMetrics,
    /// Norm-bounded attacks.
    pub bounded: Vec<BoundedRun>,
    /// Targeted attacks (Eq. 10, Eq. 11).
    pub targeted: Vec<TargetedRun>,
    /// The worst case per input across attacks.
    pub worst_case: Vec<WorstCase>,
    /// Checks of the evaluation itself (absent from older reports and when skipped).
    #[serde(default)]
    pub sanity: Option<SanityChecks>,
    /// The seed that drew the attacked inputs (class-stratified samples of the test split);
    /// absent from older reports.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Test inputs of earlier evaluations that no sample was drawn from (`--exclude-seen`);
    /// absent from older reports and when none were set aside.
    #[serde(default)]
    pub set_aside: Option<SetAside>,
    /// The command line that produced the report.
    pub command: String,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// The test inputs a report's samples were kept away from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SetAside {
    /// The earlier evaluations' files, as given.
    pub sources: Vec<String>,
    /// How many distinct test inputs they showed.
    pub inputs: usize,
}

/// The report's checks of its own evaluation: success never falls as ε grows, an unbounded
/// attack wins almost always, and twice the effort changes little.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SanityChecks {
    /// The worst-case attacker success never falls as ε grows.
    pub monotone: bool,
    /// Inputs of the unbounded and effort checks (the first adaptive samples).
    pub samples: usize,
    /// The adaptive attack's success at ε = 1 (no bound in [0, 1]) on them.
    pub unbounded_success: f64,
    /// Per budget: ε, the adaptive attack's success on them with the report's steps and
    /// restarts, and with twice both.
    pub effort: Vec<(f64, f64, f64)>,
}

/// The largest change of success that twice the effort may make for the check to pass.
pub const EFFORT_TOLERANCE: f64 = 0.05;

/// The least success an unbounded attack must reach for the check to pass.
pub const UNBOUNDED_SUCCESS: f64 = 0.95;

impl SanityChecks {
    /// The checks from the worst cases, the main adaptive run (restricted to `indices`), the
    /// unbounded run and the run with twice the effort (both on `indices`).
    pub fn measure(
        worst: &[WorstCase],
        indices: &[usize],
        main: Option<&BoundedRun>,
        unbounded: &BoundedRun,
        harder: &BoundedRun,
    ) -> Self {
        let success = |outcomes: &[SampleOutcome]| {
            let counted: Vec<&SampleOutcome> = outcomes
                .iter()
                .filter(|o| indices.contains(&o.index))
                .collect();
            counted.iter().filter(|o| o.attacker_wins()).count() as f64
                / counted.len().max(1) as f64
        };
        let monotone = worst
            .windows(2)
            .all(|w| w[1].attacker_success_rate >= w[0].attacker_success_rate - 1e-12);
        let effort = harder
            .points
            .iter()
            .zip(&harder.outcomes)
            .map(|(point, more)| {
                let base = main
                    .and_then(|m| {
                        m.points
                            .iter()
                            .position(|p| (p.eps - point.eps).abs() < 1e-9)
                            .map(|k| success(&m.outcomes[k]))
                    })
                    .unwrap_or(f64::NAN);
                (point.eps, base, success(more))
            })
            .collect();
        Self {
            monotone,
            samples: indices.len(),
            unbounded_success: unbounded.outcomes.first().map_or(0.0, |o| success(o)),
            effort,
        }
    }

    /// The Markdown section.
    pub fn markdown(&self) -> String {
        let pct = |v: f64| format!("{:.1}%", 100.0 * v);
        let mark = |ok: bool| if ok { "pass" } else { "**FAIL**" };
        let mut out = String::from("## Sanity checks of this evaluation\n\n");
        let _ = writeln!(
            out,
            "- {}: the worst-case attacker success never falls as ε grows.",
            mark(self.monotone)
        );
        let _ = writeln!(
            out,
            "- {}: the adaptive attack at ε = 1 (unbounded) wins on {} of {} inputs (at least {} required).",
            mark(self.unbounded_success >= UNBOUNDED_SUCCESS),
            pct(self.unbounded_success),
            self.samples,
            pct(UNBOUNDED_SUCCESS)
        );
        for &(eps, base, more) in &self.effort {
            let _ = writeln!(
                out,
                "- {}: at ε = {eps}, twice the steps and restarts win on {} against {} on the same {} inputs (at most {} apart).",
                mark((more - base).abs() <= EFFORT_TOLERANCE),
                pct(more),
                pct(base),
                self.samples,
                pct(EFFORT_TOLERANCE)
            );
        }
        out
    }
}

/// The worst case over the L∞ attacks in `runs` at each budget of `budgets`: an attack point
/// counts at budget ε when its own budget is at most ε (balls are nested); inputs are those
/// every counted point attacked. `clean_correct`: the test indices classified correctly when
/// clean, for the robust error.
pub fn linf_worst_cases(
    runs: &[BoundedRun],
    budgets: &[f64],
    clean_correct: &std::collections::BTreeSet<usize>,
) -> Vec<WorstCase> {
    budgets
        .iter()
        .map(|&e| worst_case(e, &linf_runs_within(runs, e), clean_correct))
        .collect()
}

/// How far apart two budgets may be and still be the same budget (they went through `f32`).
pub const SAME_BUDGET: f64 = 1e-6;

/// Every L∞ attack of `runs` at a budget of at most `eps` (with [`SAME_BUDGET`] of slack),
/// named `"{attack} ε={budget}"`: what the worst case at `eps` combines.
pub fn linf_runs_within(runs: &[BoundedRun], eps: f64) -> Vec<(String, &[SampleOutcome])> {
    runs.iter()
        .flat_map(|r| r.points.iter().zip(&r.outcomes))
        .filter(|(p, _)| p.norm == Norm::Linf && p.eps <= eps + SAME_BUDGET)
        .map(|(p, o)| (format!("{} ε={}", p.attack, p.eps), o.as_slice()))
        .collect()
}

impl SecurityReport {
    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        let c = &self.clean_test;
        let mut out = String::from("# Security evaluation\n\n");
        let _ = writeln!(out, "Model `{}` on the {} test split; τ_enc = {:.3} (squared Mahalanobis), τ_dec = {:.3} (reconstruction sum of squares). Generated by `{}` in {:.0} s.\n", self.model, self.dataset, self.tau_enc, self.tau_dec, self.command, self.seconds);
        if let Some(seed) = self.seed {
            let _ = writeln!(out, "The attacked inputs are class-stratified samples of the test split drawn with seed {seed}. The interval beside each attacker success rate is where the rate on the whole split may lie, given a sample this size (95 %, Wilson): a model chosen by its figures here should be measured again with another `--seed` before they are quoted.\n");
        }
        if let Some(aside) = &self.set_aside {
            let _ = writeln!(out, "{} test inputs shown by earlier evaluations ({}) were set aside: every sample here is drawn from the others.\n", aside.inputs, aside.sources.join(", "));
        }
        let _ = writeln!(out, "The attacker wins on an input only when the model **accepts** it (both thresholds pass) **and misclassifies** it; \"error\" below is exactly that rate. Accuracy, error and rejection are fractions of all attacked inputs.\n");
        let _ = writeln!(out, "Clean test split ({} images): accuracy {} (no threshold {}), error {}, rejection {}.\n", c.samples, pct(c.accuracy), pct(c.clean_accuracy), pct(c.error), pct(c.rejection));
        let _ = writeln!(out, "## Worst case per input across attacks (L∞)\n");
        let tpr = c.accuracy / c.clean_accuracy.max(f64::MIN_POSITIVE);
        let _ = writeln!(out, "Robust error (RErr, as CCAT reports it): of the attacked inputs the model classifies correctly when clean, the share some attack leaves accepted and misclassified — at this model's thresholds, which accept {} of the correctly classified clean test inputs (its TPR).\n", pct(tpr));
        let _ = writeln!(out, "| ε ≤ | inputs | broken (accepted and wrong under some attack) | attacker success rate (95 % interval) | robust accuracy | RErr@{:.1}%TPR (of correct) | attacks combined |\n|---:|---:|---:|---:|---:|---:|---|", 100.0 * tpr);
        for w in &self.worst_case {
            let rerr = w.robust_error.map_or("–".into(), |r| {
                format!("{} ({})", pct(r), w.correct_inputs)
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                w.eps,
                w.samples,
                w.attacker_wins,
                w.success_interval()
                    .map_or(pct(w.attacker_success_rate), |(lo, hi)| format!(
                        "{} ({}–{})",
                        pct(w.attacker_success_rate),
                        pct(lo),
                        pct(hi)
                    )),
                pct(w.robust_accuracy),
                rerr,
                group_attacks(&w.attacks)
            );
        }
        if let Some(sanity) = &self.sanity {
            out.push('\n');
            out.push_str(&sanity.markdown());
        }
        out.push_str("\n## Attacks\n\n");
        for r in &self.bounded {
            out.push_str(&r.markdown());
            out.push('\n');
        }
        for r in &self.targeted {
            out.push_str(&r.markdown());
            out.push('\n');
        }
        out
    }

    /// Writes `report.json` and `REPORT.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, AttackError> {
        let json = dir.join("report.json");
        write_json(&json, serde_json::to_string(self))?;
        let md = dir.join("REPORT.md");
        write_file(&md, self.markdown().as_bytes())?;
        Ok(vec![json, md])
    }
}
