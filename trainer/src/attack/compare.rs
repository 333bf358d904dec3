//! Two models side by side in one chart: the sweeps of the same attack (error, accepted and
//! wrong, and rejection against ε for each, as the paper's Figure 3 shows the supervised and
//! the semi-supervised model), or the worst case of two security reports (attacker success
//! and robust error against ε, e.g. a standard and an adversarially trained model).

use super::error::AttackError;
use super::metrics::WorstCase;
use super::results::BoundedRun;
use std::io::Read;
use std::path::Path;

/// The largest sweep file [`load_fgsm_sweep`] reads (a 10,000-input, 21-budget sweep is a
/// few tens of MB).
pub const MAX_SWEEP_BYTES: u64 = 256 << 20;

/// The largest security report [`load_worst_cases`] reads (`report.json` keeps every input's
/// verdict under every attack: a few hundred MB at most).
pub const MAX_REPORT_BYTES: u64 = 1 << 30;

/// Reads the JSON file at `path` as a `T`, reading at most `limit` bytes; `expected` names
/// what the file should hold in the error.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    limit: u64,
    expected: &'static str,
) -> Result<T, AttackError> {
    let fail = |reason: String| AttackError::Read {
        path: path.to_owned(),
        expected,
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(e.to_string()))?;
    if text.len() as u64 > limit {
        return Err(fail(format!("larger than {limit} bytes")));
    }
    serde_json::from_str(&text).map_err(|e| fail(format!("it is not an attack result file ({e})")))
}

/// Reads an FGSM sweep written by `gmvae attack fgsm` (`fgsm.json`): at most
/// [`MAX_SWEEP_BYTES`], valid JSON of a bounded run, of kind `fgsm`, with at least one budget.
pub fn load_fgsm_sweep(path: &Path) -> Result<BoundedRun, AttackError> {
    const EXPECTED: &str = "an FGSM sweep (fgsm.json of gmvae attack fgsm)";
    let fail = |reason: String| AttackError::Read {
        path: path.to_owned(),
        expected: EXPECTED,
        reason,
    };
    let run: BoundedRun = read_json(path, MAX_SWEEP_BYTES, EXPECTED)?;
    if run.kind != "fgsm" || run.points.is_empty() {
        return Err(fail(format!(
            "it holds a {} run with {} budgets",
            run.kind,
            run.points.len()
        )));
    }
    Ok(run)
}
use crate::eval::metrics::SelectiveMetrics;
use crate::plot::svg::{LineChart, Series, PALETTE};

/// Each model's pair of curve colours in a side-by-side chart, in order.
const MODEL_COLORS: [(&str, &str); 3] = [
    (PALETTE[1], PALETTE[0]),
    (PALETTE[3], PALETTE[4]),
    (PALETTE[5], PALETTE[2]),
];

/// The error and rejection curves of every `(label, run)` in one chart (percent of the
/// attacked inputs against ε), in the order given; ε runs to the largest budget of any run.
pub fn side_by_side(runs: &[(&str, &BoundedRun)]) -> LineChart {
    let mut series = Vec::with_capacity(2 * runs.len());
    for (k, (label, run)) in runs.iter().enumerate() {
        let (error, rejection) = MODEL_COLORS[k % MODEL_COLORS.len()];
        let curve = |name: &str, color, f: &dyn Fn(&SelectiveMetrics) -> f64| {
            run.metric_series(format!("{label}: {name}"), color, f)
        };
        series.push(curve("error (accepted, wrong)", error, &|m| m.error));
        series.push(curve("rejection", rejection, &|m| m.rejection));
    }
    let max_eps = runs
        .iter()
        .flat_map(|(_, r)| r.points.iter().map(|p| p.eps))
        .fold(0.0, f64::max);
    let title = runs
        .first()
        .map_or_else(String::new, |(_, r)| r.title.clone());
    let labels: Vec<&str> = runs.iter().map(|(l, _)| *l).collect();
    versus_chart(
        &title,
        &labels,
        "% of adversarial inputs",
        max_eps,
        100.0,
        series,
    )
}

/// A chart of percentages against ε (0 to `max_eps`, or to 1 without budgets) for the models
/// `labels`, titled `"{title}: {label} vs {label}"`.
fn versus_chart(
    title: &str,
    labels: &[&str],
    y_label: &str,
    max_eps: f64,
    y_top: f64,
    series: Vec<Series>,
) -> LineChart {
    LineChart {
        title: format!("{title}: {}", labels.join(" vs ")),
        x_label: "ε (L∞)".into(),
        y_label: y_label.into(),
        x_range: (0.0, if max_eps > 0.0 { max_eps } else { 1.0 }),
        y_range: (0.0, y_top),
        series,
        markers: vec![],
    }
}

/// The worst case per input of a security report (`report.json` of `gmvae report`), all that
/// [`worst_case_chart`] needs of it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct WorstCases {
    /// The model the report evaluated.
    pub model: String,
    /// Its worst case at each budget.
    pub worst_case: Vec<WorstCase>,
}

/// Reads the worst case of a report written by `gmvae report` (`report.json`): at most
/// [`MAX_REPORT_BYTES`], with at least one budget.
pub fn load_worst_cases(path: &Path) -> Result<WorstCases, AttackError> {
    const EXPECTED: &str = "a security report (report.json of gmvae report)";
    let report: WorstCases = read_json(path, MAX_REPORT_BYTES, EXPECTED)?;
    if report.worst_case.is_empty() {
        return Err(AttackError::Read {
            path: path.to_owned(),
            expected: EXPECTED,
            reason: "it has no worst case".into(),
        });
    }
    Ok(report)
}

/// Reads a whole report written by `gmvae report` (`report.json`, every attack's per-input
/// outcomes included): at most [`MAX_REPORT_BYTES`].
pub fn load_report(path: &Path) -> Result<super::report::SecurityReport, AttackError> {
    read_json(
        path,
        MAX_REPORT_BYTES,
        "a security report (report.json of gmvae report)",
    )
}

/// Attacker success (accepted and misclassified under some attack, of all attacked inputs)
/// and, where measured, the robust error RErr (of the inputs classified correctly when clean)
/// against ε, for every `(label, worst cases)` in one chart.
pub fn worst_case_chart(models: &[(&str, &[WorstCase])]) -> LineChart {
    let mut series = Vec::with_capacity(2 * models.len());
    for (k, (label, cases)) in models.iter().enumerate() {
        let (success, robust) = MODEL_COLORS[k % MODEL_COLORS.len()];
        series.push(Series {
            name: format!("{label}: attacker success"),
            points: cases
                .iter()
                .map(|c| (c.eps, 100.0 * c.attacker_success_rate))
                .collect(),
            color: success,
            dots: true,
            error_bars: Vec::new(),
        });
        let rerr: Vec<(f64, f64)> = cases
            .iter()
            .filter_map(|c| c.robust_error.map(|r| (c.eps, 100.0 * r)))
            .collect();
        if !rerr.is_empty() {
            series.push(Series {
                name: format!("{label}: RErr"),
                points: rerr,
                color: robust,
                dots: true,
                error_bars: Vec::new(),
            });
        }
    }
    let max_eps = models
        .iter()
        .flat_map(|(_, cases)| cases.iter().map(|c| c.eps))
        .fold(0.0, f64::max);
    let highest = series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(_, y)| y))
        .fold(0.0, f64::max);
    let labels: Vec<&str> = models.iter().map(|(l, _)| *l).collect();
    versus_chart(
        "Worst case over every L∞ attack",
        &labels,
        "% of attacked inputs",
        max_eps,
        percent_axis_top(highest),
        series,
    )
}

/// The top of a percentage axis that shows `highest` (%) with a little room above it: the
/// smallest of 5, 10, 20, 25, 50 and 100 that is at least 1.1 × `highest`, so that a few
/// percent are not drawn flat against the bottom of a 0–100 axis.
pub(super) fn percent_axis_top(highest: f64) -> f64 {
    [5.0, 10.0, 20.0, 25.0, 50.0]
        .into_iter()
        .find(|&top| 1.1 * highest <= top)
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(eps: f64, success: f64, rerr: Option<f64>) -> WorstCase {
        WorstCase {
            eps,
            samples: 100,
            attacker_wins: (100.0 * success) as usize,
            attacker_success_rate: success,
            robust_accuracy: 1.0 - success,
            attacks: vec!["adaptive".into()],
            correct_inputs: 100,
            robust_error: rerr,
        }
    }

    #[test]
    fn a_reports_worst_case_is_read_back_and_drawn_beside_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        // (Binary fractions, which JSON carries exactly.)
        let cases = vec![case(0.1, 0.5, Some(0.5)), case(0.3, 0.75, Some(0.75))];
        // Other fields of a real report are skipped.
        let json =
            serde_json::json!({ "model": "standard.gmvae", "worst_case": cases, "bounded": [] });
        std::fs::write(&path, json.to_string()).unwrap();
        let read = load_worst_cases(&path).unwrap();
        assert_eq!(
            (read.model.as_str(), &read.worst_case),
            ("standard.gmvae", &cases)
        );
        let robust = [case(0.1, 0.0625, None), case(0.3, 0.125, None)];
        let chart = worst_case_chart(&[("robust", &robust), ("standard", &read.worst_case)]);
        let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        // No RErr series where none was measured.
        assert_eq!(
            names,
            [
                "robust: attacker success",
                "standard: attacker success",
                "standard: RErr"
            ]
        );
        assert_eq!(chart.series[0].points, [(0.1, 6.25), (0.3, 12.5)]);
        assert_eq!(chart.x_range, (0.0, 0.3));
        // The y-axis fits the highest value: 75 % needs the whole axis, 12.5 % a fifth of it.
        assert_eq!(chart.y_range, (0.0, 100.0));
        let alone = worst_case_chart(&[("robust", &robust)]);
        assert_eq!(alone.y_range, (0.0, 20.0));
        assert_eq!(percent_axis_top(0.0), 5.0);
        assert_eq!(percent_axis_top(95.0), 100.0);
        // A report without a worst case, and a file that is not one, are typed errors.
        std::fs::write(&path, r#"{"model": "m", "worst_case": []}"#).unwrap();
        assert!(matches!(
            load_worst_cases(&path),
            Err(AttackError::Read { .. })
        ));
        std::fs::write(&path, "not json").unwrap();
        let err = load_worst_cases(&path).unwrap_err().to_string();
        assert!(err.contains("security report"), "{err}");
    }
}
