//! Worst cases pooled over several security reports of one model: each `gmvae report --seed S`
//! attacks its own sample of test inputs, and one sample of 500 cannot tell 7 % from 8 %.
//!
//! Pooling works on inputs, not on counts. Samples drawn with different seeds share some test
//! inputs (two stratified samples of 500 of the 10,000 MNIST test digits share about 25), and
//! summing counts would count those twice. So each report's attacked and broken inputs are
//! recomputed from its per-input outcomes with the report's own rule
//! ([`linf_runs_within`], [`worst_case_inputs`]), and the pool takes their union. An input that
//! several reports attacked is broken if some attack in any of them won on it: the worst case
//! over every attack that ran on it. Clean correctness, which RErr needs, comes from the
//! reports' ε = 0 points (the FGSM sweep's first budget by default).
//!
//! Inputs that an earlier evaluation already showed (the sample a model or a threshold was
//! chosen on) can be set aside ([`seen_inputs`]), so that the pool holds fresh inputs only.
//!
//! The 95 % interval ([`wilson_interval`]) of the pooled rate narrows with every report. The
//! chart draws it as an error bar and each goal as a marker, and the table says whether each
//! goal is met, in whole inputs.

use super::compare::{load_report, percent_axis_top, read_json, MAX_REPORT_BYTES};
use super::error::{write_file, AttackError};
use super::metrics::{wilson_interval, worst_case_inputs};
use super::project::Norm;
use super::report::{linf_runs_within, SecurityReport, SAME_BUDGET};
use super::results::{write_chart, BoundedRun};
use crate::plot::svg::{LineChart, Marker, Series, PALETTE};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The stem of the files [`write_pooled`] writes.
pub const POOLED_STEM: &str = "worst-case-pooled";

/// The worst case at one budget, over the distinct inputs of a model's reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PooledWorstCase {
    /// L∞ budget.
    pub eps: f64,
    /// Distinct inputs attacked (by every attack of some report).
    pub samples: usize,
    /// Of those, the inputs on which some attack of some report won (accepted and
    /// misclassified).
    pub attacker_wins: usize,
    /// 95 % Wilson interval of `attacker_wins / samples`.
    pub interval: (f64, f64),
    /// Of those, the inputs more than one report attacked (each counted once in `samples`).
    pub repeated_inputs: usize,
    /// Inputs the reports attacked that were set aside as seen before (not in `samples`).
    pub excluded_inputs: usize,
    /// Of the attacked inputs, those the model classifies correctly when clean; `None` when
    /// some report has no clean verdict (an ε = 0 point) for an input it attacked.
    pub correct_inputs: Option<usize>,
    /// Of those, the inputs some attack left accepted and misclassified (RErr's numerator).
    pub robust_error_count: Option<usize>,
}

impl PooledWorstCase {
    /// `attacker_wins / samples` (0 for no samples).
    pub fn rate(&self) -> f64 {
        ratio(self.attacker_wins, self.samples)
    }

    /// RErr: `robust_error_count / correct_inputs`, where known and some input was right when
    /// clean (as the report's own worst case has it).
    pub fn robust_error(&self) -> Option<f64> {
        let correct = self.correct_inputs.filter(|&n| n > 0)?;
        Some(ratio(self.robust_error_count?, correct))
    }
}

/// `k / n`, 0 for `n = 0`.
fn ratio(k: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        k as f64 / n as f64
    }
}

/// One pooled report: where it was read from, and the sample it attacked.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PooledSource {
    /// The report file.
    pub path: PathBuf,
    /// Its sample's seed (`None` in reports older than the seed record).
    pub seed: Option<u64>,
    /// How many inputs of earlier evaluations its samples were kept away from (`gmvae report
    /// --exclude-seen`; `None` when none were).
    pub drawn_outside: Option<usize>,
}

/// One model's reports, pooled.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PooledModel {
    /// Its legend label.
    pub label: String,
    /// The reports pooled, in the order given.
    pub reports: Vec<PooledSource>,
    /// The further attack result files whose wins were counted.
    pub attacks: Vec<PathBuf>,
    /// One entry per budget, in increasing ε.
    pub cases: Vec<PooledWorstCase>,
}

/// A goal for the attacker success rate: at most `percent` % at budget `eps`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Goal {
    /// L∞ budget.
    pub eps: f64,
    /// Highest acceptable attacker success, in percent.
    pub percent: f64,
}

impl Goal {
    /// A goal, if `eps` is a finite non-negative budget and `percent` lies in 0–100.
    pub fn new(eps: f64, percent: f64) -> Option<Self> {
        (eps.is_finite() && eps >= 0.0 && (0.0..=100.0).contains(&percent))
            .then_some(Self { eps, percent })
    }

    /// The most broken inputs of `samples` that meet the goal.
    pub fn allowed(&self, samples: usize) -> usize {
        // 7 % of 1,000 is 70.00000000000001 in f64: a hair of slack keeps it 70.
        (self.percent / 100.0 * samples as f64 + 1e-9).floor() as usize
    }
}

/// A report directory stands for its `report.json`.
fn report_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_owned()
    }
}

/// An evaluation read from a file: a whole security report, or one attack's result file.
#[derive(Debug)]
pub enum Evaluation {
    /// `report.json` of `gmvae report`.
    Report(Box<SecurityReport>),
    /// One attack's result (`adaptive.json` of `gmvae attack adaptive`, say).
    Attack(Box<BoundedRun>),
}

/// Reads `path` (a report directory stands for its `report.json`) as a security report or,
/// failing that, as one attack's result file; the error gives both readers' reasons.
pub fn load_evaluation(path: &Path) -> Result<(PathBuf, Evaluation), AttackError> {
    let file = report_file(path);
    let as_report = match load_report(&file) {
        Ok(report) => return Ok((file, Evaluation::Report(Box::new(report)))),
        Err(e) => e,
    };
    let run: BoundedRun =
        read_json(&file, MAX_REPORT_BYTES, "an attack's result file").map_err(|as_attack| {
            AttackError::Read {
                path: file.clone(),
                expected: "a security report or an attack's result file",
                reason: format!("as a report: {as_report}; as an attack: {as_attack}"),
            }
        })?;
    Ok((file, Evaluation::Attack(Box::new(run))))
}

/// Reads the evaluations at `paths` with [`load_evaluation`] and pools them under `label`
/// with [`pool`], setting `seen` inputs aside: reports give the inputs, attack result files
/// only more attacks on them.
pub fn load_and_pool(
    label: &str,
    paths: &[PathBuf],
    seen: &BTreeSet<usize>,
) -> Result<PooledModel, AttackError> {
    let mut reports = Vec::with_capacity(paths.len());
    let mut attacks = Vec::new();
    for path in paths {
        match load_evaluation(path)? {
            (file, Evaluation::Report(report)) => reports.push((file, *report)),
            (file, Evaluation::Attack(run)) => attacks.push((file, *run)),
        }
    }
    pool(label, &reports, &attacks, seen)
}

/// The test inputs an earlier evaluation at `path` showed: every input that some attack of
/// a security report (directory or `report.json`) or of one attack's result file
/// (`adaptive.json` of `gmvae attack adaptive`, say) ran on.
pub fn seen_inputs(path: &Path) -> Result<BTreeSet<usize>, AttackError> {
    Ok(match load_evaluation(path)?.1 {
        Evaluation::Report(report) => outcome_indices(&report.bounded),
        Evaluation::Attack(run) => outcome_indices(std::slice::from_ref(&run)),
    })
}

/// Every input index in the outcomes of `runs`.
fn outcome_indices(runs: &[BoundedRun]) -> BTreeSet<usize> {
    runs.iter()
        .flat_map(|r| r.outcomes.iter().flatten())
        .map(|o| o.index)
        .collect()
}

/// Pools one model's reports (`(file, report)`) over their distinct inputs, less the `seen`
/// ones. Every report must be of the same dataset and thresholds (one model) and have the
/// same worst-case budgets, each once; an empty list is refused too. `attacks` are further
/// attack runs on the same model (`(file, run)`, e.g. the adaptive attack again with other
/// random starts): where one of their L∞ points within a budget wins on an input the reports
/// attacked, that input is broken too; they add no inputs. Attack settings are not compared:
/// pooling weaker and stronger attacks gives the worst case over both.
pub fn pool(
    label: &str,
    reports: &[(PathBuf, SecurityReport)],
    attacks: &[(PathBuf, BoundedRun)],
    seen: &BTreeSet<usize>,
) -> Result<PooledModel, AttackError> {
    let fail = |reason: String| AttackError::Pool {
        label: label.to_owned(),
        reason,
    };
    let (first_path, first) = reports
        .first()
        .ok_or_else(|| fail("no report given".into()))?;
    let budgets = budgets_of(first_path, first).map_err(&fail)?;
    let mut clean: BTreeMap<usize, bool> = BTreeMap::new();
    for (path, report) in reports {
        if (report.dataset.as_str(), report.tau_enc, report.tau_dec)
            != (first.dataset.as_str(), first.tau_enc, first.tau_dec)
        {
            return Err(fail(format!(
                "{} evaluates {} on {} (τ_enc {}, τ_dec {}), {} evaluates {} on {} (τ_enc {}, τ_dec {}): pool one model's reports",
                path.display(), report.model, report.dataset, report.tau_enc, report.tau_dec,
                first_path.display(), first.model, first.dataset, first.tau_enc, first.tau_dec
            )));
        }
        let theirs = budgets_of(path, report).map_err(&fail)?;
        let same = theirs.len() == budgets.len()
            && theirs
                .iter()
                .zip(&budgets)
                .all(|(a, b)| (a - b).abs() <= SAME_BUDGET);
        if !same {
            return Err(fail(format!(
                "{} has the budgets {theirs:?}, {} has {budgets:?}",
                path.display(),
                first_path.display()
            )));
        }
        for (index, correct) in clean_verdicts(report) {
            clean.insert(index, correct);
        }
    }
    let mut cases = Vec::with_capacity(budgets.len());
    for &eps in &budgets {
        // How many reports attacked each input, and which inputs some attack broke.
        let mut times: BTreeMap<usize, usize> = BTreeMap::new();
        let mut broken = BTreeSet::new();
        for (_, report) in reports {
            let inputs = worst_case_inputs(&linf_runs_within(&report.bounded, eps));
            for i in inputs.attacked {
                *times.entry(i).or_default() += 1;
            }
            broken.extend(inputs.broken);
        }
        for (_, run) in attacks {
            let wins = worst_case_inputs(&linf_runs_within(std::slice::from_ref(run), eps)).broken;
            broken.extend(wins.into_iter().filter(|i| times.contains_key(i)));
        }
        let before = times.len();
        times.retain(|i, _| !seen.contains(i));
        let attacked: BTreeSet<usize> = times.keys().copied().collect();
        broken.retain(|i| attacked.contains(i));
        let excluded_inputs = before - attacked.len();
        let interval = wilson_interval(broken.len(), attacked.len()).ok_or_else(|| {
            fail(if before > 0 {
                format!("all {before} inputs attacked at ε = {eps} were set aside as seen")
            } else {
                format!("no input was attacked at ε = {eps}")
            })
        })?;
        // The attacked inputs right when clean, if every one has a clean verdict.
        let correct: Option<BTreeSet<usize>> = attacked
            .iter()
            .all(|i| clean.contains_key(i))
            .then(|| attacked.iter().copied().filter(|i| clean[i]).collect());
        cases.push(PooledWorstCase {
            eps,
            samples: attacked.len(),
            attacker_wins: broken.len(),
            interval,
            repeated_inputs: times.values().filter(|&&n| n > 1).count(),
            excluded_inputs,
            robust_error_count: correct.as_ref().map(|c| c.intersection(&broken).count()),
            correct_inputs: correct.map(|c| c.len()),
        });
    }
    Ok(PooledModel {
        label: label.to_owned(),
        reports: reports
            .iter()
            .map(|(path, r)| PooledSource {
                path: path.clone(),
                seed: r.seed,
                drawn_outside: r.set_aside.as_ref().map(|a| a.inputs),
            })
            .collect(),
        attacks: attacks.iter().map(|(path, _)| path.clone()).collect(),
        cases,
    })
}

/// A report's worst-case budgets in increasing order; a budget twice is an error.
fn budgets_of(path: &Path, report: &SecurityReport) -> Result<Vec<f64>, String> {
    let mut eps: Vec<f64> = report.worst_case.iter().map(|c| c.eps).collect();
    if eps.is_empty() || eps.iter().any(|e| !e.is_finite()) {
        return Err(format!(
            "{} has no worst case to pool (or a budget that is not a number)",
            path.display()
        ));
    }
    eps.sort_by(f64::total_cmp);
    if eps.windows(2).any(|w| w[1] - w[0] <= SAME_BUDGET) {
        return Err(format!(
            "{} has the same budget twice: {eps:?}",
            path.display()
        ));
    }
    Ok(eps)
}

/// Whether the model classifies each input correctly when clean (nearest mean, no
/// thresholds), from the report's L∞ points at ε = 0.
fn clean_verdicts(report: &SecurityReport) -> impl Iterator<Item = (usize, bool)> + '_ {
    report
        .bounded
        .iter()
        .flat_map(|r| r.points.iter().zip(&r.outcomes))
        .filter(|(p, _)| p.norm == Norm::Linf && p.eps.abs() <= SAME_BUDGET)
        .flat_map(|(_, outcomes)| outcomes.iter())
        .map(|o| (o.index, o.verdict.prediction == o.label))
}

/// Every goal's budget among `models`' budgets; else which goal was not measured.
fn check_goals(models: &[PooledModel], goals: &[Goal]) -> Result<(), AttackError> {
    for g in goals {
        for m in models {
            if find_case(m, g.eps).is_none() {
                return Err(AttackError::Pool {
                    label: m.label.clone(),
                    reason: format!(
                        "the goal at ε = {} is at a budget its reports did not measure",
                        g.eps
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The pooled worst case of `model` at budget `eps`.
fn find_case(model: &PooledModel, eps: f64) -> Option<&PooledWorstCase> {
    model
        .cases
        .iter()
        .find(|c| (c.eps - eps).abs() <= SAME_BUDGET)
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
            let x = |eps: f64| (eps + dodge).max(0.0);
            Series {
                name: format!(
                    "{} ({} inputs)",
                    m.label,
                    m.cases.last().map_or(0, |c| c.samples)
                ),
                points: m
                    .cases
                    .iter()
                    .map(|c| (x(c.eps), 100.0 * c.rate()))
                    .collect(),
                color: PALETTE[k % PALETTE.len()],
                dots: true,
                error_bars: m
                    .cases
                    .iter()
                    .map(|c| (x(c.eps), 100.0 * c.interval.0, 100.0 * c.interval.1))
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

/// `n input` or `n inputs`.
fn inputs(n: usize) -> String {
    format!("{n} input{}", if n == 1 { "" } else { "s" })
}

/// The pooled worst cases as a Markdown table (one row per model and budget), then one line
/// per goal and model saying whether the pooled rate meets it.
pub fn pooled_markdown(models: &[PooledModel], goals: &[Goal]) -> String {
    let mut s = String::from(
        "| model | reports | ε | broken / attacked (distinct inputs) | attacker success | 95 % interval | inputs in several reports | seen inputs set aside here | RErr (of the inputs right when clean) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in models {
        // A `|` in a label would end its table cell.
        let label = m.label.replace('|', "\\|");
        for c in &m.cases {
            let rerr = match (c.robust_error(), c.robust_error_count, c.correct_inputs) {
                (Some(r), Some(k), Some(n)) => format!("{:.2} % ({k} / {n})", 100.0 * r),
                _ => "—".into(),
            };
            let _ = writeln!(
                s,
                "| {label} | {} | {} | {} / {} | {:.1} % | {:.1}–{:.1} % | {} | {} | {rerr} |",
                m.reports.len(),
                c.eps,
                c.attacker_wins,
                c.samples,
                100.0 * c.rate(),
                100.0 * c.interval.0,
                100.0 * c.interval.1,
                c.repeated_inputs,
                c.excluded_inputs
            );
        }
    }
    let mut notes = String::new();
    for m in models {
        let outside: Vec<String> = m
            .reports
            .iter()
            .filter_map(|r| r.drawn_outside.map(|n| n.to_string()))
            .collect();
        if !outside.is_empty() {
            let _ = writeln!(
                notes,
                "- {}: the samples of {} of its {} reports were drawn outside {} inputs of earlier evaluations (`gmvae report --exclude-seen`).",
                m.label,
                outside.len(),
                m.reports.len(),
                outside.join(" and ")
            );
        }
    }
    if !notes.is_empty() {
        s.push('\n');
        s.push_str(&notes);
    }
    if !goals.is_empty() {
        s.push('\n');
    }
    for g in goals {
        for m in models {
            let line = match find_case(m, g.eps) {
                None => format!("- {} at ε = {}: not measured", m.label, g.eps),
                Some(c) => {
                    let allowed = g.allowed(c.samples);
                    let verdict = if c.attacker_wins <= allowed {
                        "met".to_owned()
                    } else {
                        format!("missed by {}", inputs(c.attacker_wins - allowed))
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

/// What `worst-case-pooled.json` holds.
#[derive(serde::Serialize)]
struct PooledFile<'a> {
    models: &'a [PooledModel],
    goals: &'a [Goal],
}

/// Writes `worst-case-pooled.{json,md,svg,png}` into `dir` atomically (the pooled inputs and
/// their sources, the table with the goals' verdicts, and the chart); returns the paths
/// written. A goal at a budget that some model did not measure is refused before anything is
/// written.
pub fn write_pooled(
    dir: &Path,
    models: &[PooledModel],
    goals: &[Goal],
) -> Result<Vec<PathBuf>, AttackError> {
    check_goals(models, goals)?;
    let json_path = dir.join(format!("{POOLED_STEM}.json"));
    let json = serde_json::to_vec_pretty(&PooledFile { models, goals }).map_err(|source| {
        AttackError::Json {
            path: json_path.clone(),
            source,
        }
    })?;
    write_file(&json_path, &json)?;
    let md_path = dir.join(format!("{POOLED_STEM}.md"));
    write_file(&md_path, pooled_markdown(models, goals).as_bytes())?;
    let mut written = vec![json_path, md_path];
    written.extend(write_chart(dir, POOLED_STEM, &pooled_chart(models, goals))?);
    Ok(written)
}

#[cfg(test)]
mod tests;
