//! Worst cases pooled over several security reports of one model: each `gmvae report --seed S`
//! attacks its own sample of inputs, and one sample of 500 cannot tell 7 % from 8 %. Pooling
//! sums the broken and the attacked inputs per budget, so the 95 % interval
//! ([`wilson_interval`]) narrows with every report; the chart draws it as an error bar and a
//! goal as a marker, and the table says whether each goal is met.

use super::compare::{percent_axis_top, WorstCases};
use super::error::{write_file, AttackError};
use super::metrics::wilson_interval;
use super::results::write_chart;
use crate::plot::svg::{LineChart, Marker, Series, PALETTE};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The stem of the files [`write_pooled`] writes.
pub const POOLED_STEM: &str = "worst-case-pooled";

/// The worst case at one budget, summed over a model's reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PooledWorstCase {
    /// L∞ budget.
    pub eps: f64,
    /// Inputs attacked, over every report.
    pub samples: usize,
    /// Inputs on which some attack won (accepted and misclassified), over every report.
    pub attacker_wins: usize,
    /// 95 % Wilson interval of `attacker_wins / samples`.
    pub interval: (f64, f64),
    /// Inputs the model classifies correctly when clean, over every report.
    pub correct_inputs: usize,
    /// Of those, the inputs some attack left accepted and misclassified (RErr's numerator);
    /// `None` unless every report measured it.
    pub robust_errors: Option<usize>,
}

impl PooledWorstCase {
    /// `attacker_wins / samples` (0 for no samples).
    pub fn rate(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.attacker_wins as f64 / self.samples as f64
        }
    }
}

/// One model's reports, pooled.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PooledModel {
    /// Its legend label.
    pub label: String,
    /// How many reports were pooled.
    pub reports: usize,
    /// One entry per budget, in increasing ε.
    pub cases: Vec<PooledWorstCase>,
}

/// A goal for the attacker success rate: at most `percent` % at budget `eps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goal {
    /// L∞ budget.
    pub eps: f64,
    /// Highest acceptable attacker success, in percent.
    pub percent: f64,
}

/// Sums `reports` (one model's, on disjoint input samples) per budget. Every report must have
/// the same budgets, each with attacked inputs; an empty list is an error too.
pub fn pool(label: &str, reports: &[WorstCases]) -> Result<PooledModel, AttackError> {
    let fail = |reason: String| AttackError::Pool {
        label: label.to_owned(),
        reason,
    };
    let first = reports
        .first()
        .ok_or_else(|| fail("no report given".into()))?;
    let budgets = sorted_budgets(first);
    let mut cases: Vec<PooledWorstCase> = budgets
        .iter()
        .map(|&eps| PooledWorstCase {
            eps,
            samples: 0,
            attacker_wins: 0,
            interval: (0.0, 0.0),
            correct_inputs: 0,
            robust_errors: Some(0),
        })
        .collect();
    for report in reports {
        let theirs = sorted_budgets(report);
        if theirs != budgets {
            return Err(fail(format!(
                "{} has the budgets {theirs:?}, {} has {budgets:?}",
                report.model, first.model
            )));
        }
        for case in &report.worst_case {
            let Some(sum) = cases.iter_mut().find(|c| c.eps == case.eps) else {
                continue;
            };
            if case.attacker_wins > case.samples {
                return Err(fail(format!(
                    "{} counts {} wins of {} inputs at ε = {}",
                    report.model, case.attacker_wins, case.samples, case.eps
                )));
            }
            sum.samples += case.samples;
            sum.attacker_wins += case.attacker_wins;
            sum.correct_inputs += case.correct_inputs;
            // RErr is stored as a rate k / n; k is recovered exactly by rounding.
            let errors = case
                .robust_error
                .map(|r| (r * case.correct_inputs as f64).round() as usize);
            sum.robust_errors = sum.robust_errors.zip(errors).map(|(a, b)| a + b);
        }
    }
    for case in &mut cases {
        case.interval = wilson_interval(case.attacker_wins, case.samples)
            .ok_or_else(|| fail(format!("no input was attacked at ε = {}", case.eps)))?;
    }
    Ok(PooledModel {
        label: label.to_owned(),
        reports: reports.len(),
        cases,
    })
}

/// A report's budgets in increasing order, without repeats.
fn sorted_budgets(report: &WorstCases) -> Vec<f64> {
    let mut eps: Vec<f64> = report.worst_case.iter().map(|c| c.eps).collect();
    eps.sort_by(f64::total_cmp);
    eps.dedup();
    eps
}

/// Attacker success (percent) against ε for every model, with its 95 % interval as an error
/// bar, and every goal as a marker. Models measured at the same budgets are drawn a little
/// apart (1 % of the axis each) so that their bars do not hide each other.
pub fn pooled_chart(models: &[PooledModel], goals: &[Goal]) -> LineChart {
    let max_eps = models
        .iter()
        .flat_map(|m| m.cases.iter().map(|c| c.eps))
        .chain(goals.iter().map(|g| g.eps))
        .fold(0.0, f64::max);
    let x_top = if max_eps > 0.0 { 1.1 * max_eps } else { 1.0 };
    let series: Vec<Series> = models
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let dodge = 0.01 * x_top * (k as f64 - (models.len() as f64 - 1.0) / 2.0);
            Series {
                name: format!(
                    "{} ({} inputs)",
                    m.label,
                    m.cases.first().map_or(0, |c| c.samples)
                ),
                points: m
                    .cases
                    .iter()
                    .map(|c| (c.eps + dodge, 100.0 * c.rate()))
                    .collect(),
                color: PALETTE[k % PALETTE.len()],
                dots: true,
                error_bars: m
                    .cases
                    .iter()
                    .map(|c| (c.eps + dodge, 100.0 * c.interval.0, 100.0 * c.interval.1))
                    .collect(),
            }
        })
        .collect();
    let highest = series
        .iter()
        .flat_map(|s| s.error_bars.iter().map(|&(_, _, high)| high))
        .chain(goals.iter().map(|g| g.percent))
        .fold(0.0, f64::max);
    LineChart {
        title: "Worst case over every L∞ attack, pooled (95 % intervals)".into(),
        x_label: "ε (L∞)".into(),
        y_label: "% of attacked inputs accepted and wrong".into(),
        x_range: (0.0, x_top),
        y_range: (0.0, percent_axis_top(highest)),
        series,
        markers: goals
            .iter()
            .map(|g| Marker {
                label: format!("goal ≤ {} %", g.percent),
                at: (g.eps, g.percent),
                color: "#555555",
            })
            .collect(),
    }
}

/// The pooled worst cases as a Markdown table (one row per model and budget), then one line
/// per goal and model saying whether the pooled rate meets it.
pub fn pooled_markdown(models: &[PooledModel], goals: &[Goal]) -> String {
    let mut s = String::from(
        "| model | reports | ε | broken / attacked | attacker success | 95 % interval | RErr (of the inputs right when clean) |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in models {
        for c in &m.cases {
            let rerr = match c.robust_errors {
                Some(k) if c.correct_inputs > 0 => format!(
                    "{:.2} % ({k} / {})",
                    100.0 * k as f64 / c.correct_inputs as f64,
                    c.correct_inputs
                ),
                _ => "—".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} / {} | {:.1} % | {:.1}–{:.1} % | {rerr} |",
                m.label,
                m.reports,
                c.eps,
                c.attacker_wins,
                c.samples,
                100.0 * c.rate(),
                100.0 * c.interval.0,
                100.0 * c.interval.1
            );
        }
    }
    if !goals.is_empty() {
        s.push('\n');
    }
    for g in goals {
        for m in models {
            let line = match m.cases.iter().find(|c| c.eps == g.eps) {
                None => format!("- {} at ε = {}: not measured", m.label, g.eps),
                Some(c) => {
                    // The most wins the goal allows, counted in whole inputs.
                    let allowed = (g.percent / 100.0 * c.samples as f64 + 1e-9).floor() as usize;
                    let verdict = if c.attacker_wins <= allowed {
                        "met".to_owned()
                    } else {
                        format!("missed by {} inputs", c.attacker_wins - allowed)
                    };
                    format!(
                        "- {} at ε = {}: {} of {} ({:.1} %) against the goal of at most {} % ({allowed}): {verdict}",
                        m.label,
                        g.eps,
                        c.attacker_wins,
                        c.samples,
                        100.0 * c.rate(),
                        g.percent
                    )
                }
            };
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

/// Writes `worst-case-pooled.{json,md,svg,png}` into `dir` atomically (the pooled counts,
/// the table with the goals' verdicts, and the chart); returns the paths written.
pub fn write_pooled(
    dir: &Path,
    models: &[PooledModel],
    goals: &[Goal],
) -> Result<Vec<PathBuf>, AttackError> {
    let json_path = dir.join(format!("{POOLED_STEM}.json"));
    let json = serde_json::to_vec_pretty(models).map_err(|source| AttackError::Json {
        path: json_path.clone(),
        source,
    })?;
    write_file(&json_path, &json)?;
    let md_path = dir.join(format!("{POOLED_STEM}.md"));
    write_file(&md_path, pooled_markdown(models, goals).as_bytes())?;
    let mut written = vec![json_path, md_path];
    written.extend(write_chart(dir, POOLED_STEM, &pooled_chart(models, goals))?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::metrics::WorstCase;

    fn report(model: &str, cases: &[(f64, usize, usize, usize, Option<usize>)]) -> WorstCases {
        WorstCases {
            model: model.into(),
            worst_case: cases
                .iter()
                .map(|&(eps, samples, wins, correct, rerr)| WorstCase {
                    eps,
                    samples,
                    attacker_wins: wins,
                    attacker_success_rate: wins as f64 / samples as f64,
                    robust_accuracy: 0.5,
                    attacks: vec!["adaptive".into()],
                    correct_inputs: correct,
                    robust_error: rerr.map(|k| k as f64 / correct as f64),
                })
                .collect(),
        }
    }

    #[test]
    fn reports_are_summed_per_budget_and_the_interval_narrows() {
        let a = report(
            "m",
            &[(0.1, 500, 8, 492, Some(3)), (0.3, 500, 31, 492, Some(24))],
        );
        let b = report(
            "m",
            &[(0.3, 500, 42, 492, Some(33)), (0.1, 500, 9, 492, Some(3))],
        );
        let one = pool("m", std::slice::from_ref(&a)).unwrap();
        let both = pool("m", &[a, b]).unwrap();
        assert_eq!(both.reports, 2);
        let at = |p: &PooledModel, eps: f64| p.cases.iter().find(|c| c.eps == eps).cloned();
        let c = at(&both, 0.3).unwrap();
        assert_eq!(
            (
                c.samples,
                c.attacker_wins,
                c.correct_inputs,
                c.robust_errors
            ),
            (1000, 73, 984, Some(57))
        );
        assert_eq!(c.interval, wilson_interval(73, 1000).unwrap());
        let single = at(&one, 0.3).unwrap().interval;
        assert!(c.interval.1 - c.interval.0 < single.1 - single.0);
        // Budgets come out in increasing order whatever the reports' order.
        let eps: Vec<f64> = both.cases.iter().map(|c| c.eps).collect();
        assert_eq!(eps, [0.1, 0.3]);
    }

    #[test]
    fn reports_with_other_budgets_or_none_are_refused() {
        let a = report("a.gmvae", &[(0.1, 10, 1, 10, None)]);
        let b = report("b.gmvae", &[(0.2, 10, 1, 10, None)]);
        let err = pool("m", &[a, b]).unwrap_err().to_string();
        assert!(err.contains("b.gmvae has the budgets [0.2]"), "{err}");
        assert!(pool("m", &[]).is_err());
        let broken = report("c.gmvae", &[(0.1, 10, 11, 10, None)]);
        assert!(pool("m", &[broken]).is_err());
    }

    #[test]
    fn robust_error_is_pooled_only_when_every_report_has_it() {
        let a = report("a", &[(0.3, 100, 5, 90, Some(4))]);
        let b = report("b", &[(0.3, 100, 5, 90, None)]);
        assert_eq!(pool("m", &[a, b]).unwrap().cases[0].robust_errors, None);
    }

    #[test]
    fn goals_are_judged_in_whole_inputs_and_drawn() {
        let m = pool("robust", &[report("a", &[(0.3, 1000, 73, 984, None)])]).unwrap();
        let missed = pooled_markdown(
            &[m.clone()],
            &[Goal {
                eps: 0.3,
                percent: 7.0,
            }],
        );
        assert!(missed.contains("73 of 1000 (7.3 %)"), "{missed}");
        assert!(missed.contains("missed by 3 inputs"), "{missed}");
        let met = pooled_markdown(
            &[m.clone()],
            &[Goal {
                eps: 0.3,
                percent: 7.3,
            }],
        );
        assert!(met.contains(": met"), "{met}");
        let chart = pooled_chart(
            &[m],
            &[Goal {
                eps: 0.3,
                percent: 7.0,
            }],
        );
        let bar = chart.series[0].error_bars[0];
        assert_eq!(bar.0, 0.3);
        assert!(bar.1 < 7.3 && 7.3 < bar.2);
        assert_eq!(chart.markers[0].at, (0.3, 7.0));
        // The axis shows the whole interval.
        assert!(chart.y_range.1 >= bar.2);
        let svg = chart.to_svg();
        assert!(svg.contains("goal ≤ 7 %"));
    }
}
