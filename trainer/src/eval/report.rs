//! The evaluation report of a model on a labelled split: Table 1's row, confusion matrices and
//! risk–coverage curves, as JSON, Markdown and SVG.

use super::metrics::{confusion_matrix, risk_coverage, CurvePoint, SelectiveMetrics};
use crate::atomic::{pretty_json, write_atomically, OutputError};
use crate::calibrate::{Calibration, Scores};
use crate::plot::svg::{heat_map, LineChart, Marker, Series, PALETTE};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Everything `gmvae eval` reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    /// Dataset name.
    pub dataset: String,
    /// Class names.
    pub class_names: Vec<String>,
    /// τ_enc used.
    pub tau_enc: f32,
    /// τ_dec used.
    pub tau_dec: f32,
    /// Table 1's columns.
    pub metrics: SelectiveMetrics,
    /// `[true][predicted]` without thresholding.
    pub confusion: Vec<Vec<usize>>,
    /// `[true][predicted or rejected]` with thresholding (last column = rejected).
    pub confusion_thresholded: Vec<Vec<usize>>,
    /// Risk–coverage curve of the combined score max(d²/τ_enc, e/τ_dec).
    pub curve_combined: Vec<CurvePoint>,
    /// Risk–coverage curve of the latent score alone.
    pub curve_latent: Vec<CurvePoint>,
    /// Risk–coverage curve of the reconstruction score alone.
    pub curve_reconstruction: Vec<CurvePoint>,
}

impl EvalReport {
    /// Builds the report for `scores` of inputs with `labels`.
    pub fn new(
        dataset: &str,
        class_names: &[String],
        scores: &Scores,
        labels: &[usize],
        calibration: &Calibration,
    ) -> Self {
        let classes = class_names.len();
        let accepted: Vec<bool> = scores
            .mahalanobis_sq
            .iter()
            .zip(&scores.reconstruction_errors)
            .map(|(&m, &e)| calibration.accepts(m, e))
            .collect();
        let correct: Vec<bool> = scores
            .predictions
            .iter()
            .zip(labels)
            .map(|(p, l)| p == l)
            .collect();
        let latent: Vec<f64> = scores
            .mahalanobis_sq
            .iter()
            .map(|&m| f64::from(m))
            .collect();
        let rec: Vec<f64> = scores
            .reconstruction_errors
            .iter()
            .map(|&e| f64::from(e))
            .collect();
        let combined: Vec<f64> = latent
            .iter()
            .zip(&rec)
            .map(|(m, e)| {
                (m / f64::from(calibration.tau_enc)).max(e / f64::from(calibration.tau_dec))
            })
            .collect();
        Self {
            dataset: dataset.to_owned(),
            class_names: class_names.to_vec(),
            tau_enc: calibration.tau_enc,
            tau_dec: calibration.tau_dec,
            metrics: SelectiveMetrics::measure(scores, labels, calibration),
            confusion: confusion_matrix(&scores.predictions, labels, classes, None),
            confusion_thresholded: confusion_matrix(
                &scores.predictions,
                labels,
                classes,
                Some(&accepted),
            ),
            curve_combined: risk_coverage(&combined, &correct),
            curve_latent: risk_coverage(&latent, &correct),
            curve_reconstruction: risk_coverage(&rec, &correct),
        }
    }

    /// Table 1's row as a Markdown table.
    pub fn table_markdown(&self) -> String {
        let m = &self.metrics;
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| Dataset | Samples | Accuracy (no threshold) | Accuracy | Error | Rejection | rejected by latent | rejected by reconstruction |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            self.dataset,
            m.samples,
            pct(m.clean_accuracy),
            pct(m.accuracy),
            pct(m.error),
            pct(m.rejection),
            pct(m.rejected_by_latent),
            pct(m.rejected_by_reconstruction)
        );
        s
    }

    /// The thresholded confusion matrix as a Markdown table.
    pub fn confusion_markdown(&self) -> String {
        let mut s = String::from("| true \\ predicted |");
        for name in &self.class_names {
            let _ = write!(s, " {name} |");
        }
        s.push_str(" rejected |\n|---|");
        s.push_str(&"---:|".repeat(self.class_names.len() + 1));
        s.push('\n');
        for (name, row) in self.class_names.iter().zip(&self.confusion_thresholded) {
            let _ = write!(s, "| {name} |");
            for count in row {
                let _ = write!(s, " {count} |");
            }
            s.push('\n');
        }
        s
    }

    /// Writes `eval.json`, `eval.md`, `risk-coverage.svg` and `confusion.svg` into `dir`;
    /// returns the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
        let files = [
            ("eval.json", pretty_json("eval.json", self)?),
            ("eval.md", self.markdown()),
            ("risk-coverage.svg", self.risk_coverage_svg()),
            ("confusion.svg", self.confusion_svg()),
        ];
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            write_atomically(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }

    fn markdown(&self) -> String {
        format!(
            "# Evaluation on {}\n\nThresholds: τ_enc = {:.4} (squared Mahalanobis), τ_dec = {:.4} (reconstruction sum of squares).\nAccuracy, error and rejection are fractions of all {} inputs.\n\n{}\n## Confusion matrix with thresholding\n\n{}",
            self.dataset,
            self.tau_enc,
            self.tau_dec,
            self.metrics.samples,
            self.table_markdown(),
            self.confusion_markdown()
        )
    }

    fn risk_coverage_svg(&self) -> String {
        let to_points = |c: &[CurvePoint]| -> Vec<(f64, f64)> {
            c.iter()
                .skip(1)
                .map(|p| (100.0 * p.coverage, 100.0 * p.risk))
                .collect()
        };
        let max_risk = self
            .curve_combined
            .last()
            .map_or(0.01, |p| p.risk)
            .max(0.005);
        let m = &self.metrics;
        LineChart {
            title: format!("Risk–coverage on {}", self.dataset),
            x_label: "coverage: % of inputs accepted".into(),
            y_label: "selective risk: % wrong among accepted".into(),
            x_range: (0.0, 100.0),
            y_range: (0.0, 120.0 * max_risk),
            series: vec![
                Series {
                    name: "both scores: max(d²/τ_enc, e/τ_dec)".into(),
                    points: to_points(&self.curve_combined),
                    color: PALETTE[0],
                    dots: false,
                    error_bars: Vec::new(),
                },
                Series {
                    name: "latent d² only".into(),
                    points: to_points(&self.curve_latent),
                    color: PALETTE[2],
                    dots: false,
                    error_bars: Vec::new(),
                },
                Series {
                    name: "reconstruction error only".into(),
                    points: to_points(&self.curve_reconstruction),
                    color: PALETTE[3],
                    dots: false,
                    error_bars: Vec::new(),
                },
            ],
            markers: vec![Marker {
                label: format!(
                    "calibrated: {:.1}% coverage, {:.2}% risk",
                    100.0 * (1.0 - m.rejection),
                    100.0 * m.selective_risk
                ),
                at: (100.0 * (1.0 - m.rejection), 100.0 * m.selective_risk),
                color: PALETTE[1],
            }],
        }
        .to_svg()
    }

    fn confusion_svg(&self) -> String {
        let mut columns = self.class_names.clone();
        columns.push("rejected".into());
        heat_map(
            &format!("Confusion with thresholding ({})", self.dataset),
            "true class",
            "predicted class",
            &self.class_names,
            &columns,
            &self.confusion_thresholded,
        )
    }
}
