//! Two models' sweeps of the same attack in one chart: error (accepted and wrong) and
//! rejection against ε for each, as the paper's Figure 3 shows the supervised and the
//! semi-supervised model side by side.

use super::results::BoundedRun;
use crate::eval::metrics::SelectiveMetrics;
use crate::plot::svg::{LineChart, PALETTE};

/// The error and rejection curves of every `(label, run)` in one chart (percent of the
/// attacked inputs against ε), in the order given; ε runs to the largest budget of any run.
pub fn side_by_side(runs: &[(&str, &BoundedRun)]) -> LineChart {
    let mut series = Vec::with_capacity(2 * runs.len());
    let colors = [
        (PALETTE[1], PALETTE[0]),
        (PALETTE[3], PALETTE[4]),
        (PALETTE[5], PALETTE[2]),
    ];
    for (k, (label, run)) in runs.iter().enumerate() {
        let (error, rejection) = colors[k % colors.len()];
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
    LineChart {
        title: format!(
            "{title}: {}",
            runs.iter()
                .map(|(l, _)| *l)
                .collect::<Vec<_>>()
                .join(" vs ")
        ),
        x_label: "ε (L∞)".into(),
        y_label: "% of adversarial inputs".into(),
        x_range: (0.0, if max_eps > 0.0 { max_eps } else { 1.0 }),
        y_range: (0.0, 100.0),
        series,
        markers: vec![],
    }
}
