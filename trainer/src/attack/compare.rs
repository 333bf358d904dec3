//! Two models' sweeps of the same attack in one chart: error (accepted and wrong) and
//! rejection against ε for each, as the paper's Figure 3 shows the supervised and the
//! semi-supervised model side by side.

use super::error::AttackError;
use super::results::BoundedRun;
use std::io::Read;
use std::path::Path;

/// The largest sweep file [`load_fgsm_sweep`] reads (a 10,000-input, 21-budget sweep is a
/// few tens of MB).
pub const MAX_SWEEP_BYTES: u64 = 256 << 20;

/// Reads an FGSM sweep written by `gmvae attack fgsm` (`fgsm.json`): at most
/// [`MAX_SWEEP_BYTES`], valid JSON of a bounded run, of kind `fgsm`, with at least one budget.
pub fn load_fgsm_sweep(path: &Path) -> Result<BoundedRun, AttackError> {
    let fail = |reason: String| AttackError::Read {
        path: path.to_owned(),
        expected: "an FGSM sweep (fgsm.json of gmvae attack fgsm)",
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_SWEEP_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(e.to_string()))?;
    if text.len() as u64 > MAX_SWEEP_BYTES {
        return Err(fail(format!("larger than {MAX_SWEEP_BYTES} bytes")));
    }
    let run: BoundedRun = serde_json::from_str(&text)
        .map_err(|e| fail(format!("it is not an attack result file ({e})")))?;
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
