//! One attack's results and their files: JSON, a Markdown table, Figure-3-style curves (SVG
//! and PNG) and Figure-4-style grids of adversarial images above their reconstructions.

use super::chart_png::write_chart_png;
use super::error::{write_file, write_json};
use super::metrics::{AttackPoint, SampleOutcome, Verdict};
use super::project::Norm;
use super::AttackError;
use crate::choice::Choice;
use crate::eval::metrics::SelectiveMetrics;
use crate::plot::grid::{encode_png, GridShape};
use crate::plot::svg::{LineChart, Series, PALETTE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Images for a Figure-4-style grid: adversarial inputs above their reconstructions.
#[derive(Clone, Debug, Default)]
pub struct Examples {
    /// Adversarial inputs.
    pub images: Vec<Vec<f32>>,
    /// g(f(x)) of each.
    pub reconstructions: Vec<Vec<f32>>,
    /// One caption per column.
    pub captions: Vec<String>,
}

/// A norm-bounded attack evaluated at one or more budgets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoundedRun {
    /// Short name (`fgsm`, `pgd-linf`, `pgd-l2`, `mim`, `adaptive`).
    pub kind: String,
    /// Title for tables and charts.
    pub title: String,
    /// The settings, as given.
    pub settings: serde_json::Value,
    /// Inputs attacked.
    pub samples: usize,
    /// The model on the same inputs, unattacked.
    pub clean: SelectiveMetrics,
    /// One point per budget.
    pub points: Vec<AttackPoint>,
    /// Per budget, every input's outcome.
    pub outcomes: Vec<Vec<SampleOutcome>>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The example grid of the largest budget.
    #[serde(skip)]
    pub examples: Option<Examples>,
}

/// One (input, target) pair of a targeted attack.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairOutcome {
    /// Test index of the source image (Eq. 10) or number of the noise image (Eq. 11).
    pub index: usize,
    /// True class of the source image (none for noise).
    pub label: Option<usize>,
    /// Target class.
    pub target: usize,
    /// The verdict on the final iterate.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Final iterate accepted and misclassified (Eq. 10) / accepted as the target (Eq. 11).
    pub attacker_wins: bool,
    /// Some iterate (verified by the deployed scoring) was a win.
    pub attacker_wins_any_iterate: bool,
    /// ||x_final − x_start||₂.
    pub l2: f32,
    /// ||x_final − x_start||∞.
    pub linf: f32,
}

/// Counts over all pairs of a targeted attack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetedSummary {
    /// Pairs attacked.
    pub pairs: usize,
    /// Attacker wins on the final iterate.
    pub attacker_wins: usize,
    /// Attacker wins on any iterate.
    pub attacker_wins_any_iterate: usize,
    /// Final iterates accepted (any class).
    pub accepted: usize,
    /// Final iterates accepted as the target class.
    pub accepted_as_target: usize,
    /// Final iterates accepted as the source class (Eq. 10 only).
    pub accepted_as_source: usize,
    /// Final iterates rejected.
    pub rejected: usize,
    /// Final iterates the unthresholded classifier assigns to the target.
    pub encoder_fooled: usize,
    /// Mean ||δ||₂ of the final iterates.
    pub mean_l2: f64,
    /// Mean ||δ||∞.
    pub mean_linf: f64,
}

/// A targeted attack (Eq. 10 or Eq. 11).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetedRun {
    /// Short name (`whitebox`, `fooling`).
    pub kind: String,
    /// Title.
    pub title: String,
    /// The settings.
    pub settings: serde_json::Value,
    /// Totals.
    pub summary: TargetedSummary,
    /// Per target class: (pairs, attacker wins, rejected).
    pub per_target: BTreeMap<usize, (usize, usize, usize)>,
    /// Mean loss after each step.
    pub loss_trace: Vec<f32>,
    /// Every pair.
    pub pairs: Vec<PairOutcome>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Example grid.
    #[serde(skip)]
    pub examples: Option<Examples>,
}

impl TargetedRun {
    /// Summarises `pairs`.
    pub fn new(
        kind: &str,
        title: &str,
        settings: serde_json::Value,
        pairs: Vec<PairOutcome>,
        loss_trace: Vec<f32>,
        seconds: f64,
        examples: Examples,
    ) -> Self {
        let count = |f: &dyn Fn(&PairOutcome) -> bool| pairs.iter().filter(|p| f(p)).count();
        let n = pairs.len().max(1) as f64;
        let summary = TargetedSummary {
            pairs: pairs.len(),
            attacker_wins: count(&|p| p.attacker_wins),
            attacker_wins_any_iterate: count(&|p| p.attacker_wins_any_iterate),
            accepted: count(&|p| p.verdict.accepted),
            accepted_as_target: count(&|p| p.verdict.accepted && p.verdict.prediction == p.target),
            accepted_as_source: count(&|p| {
                p.verdict.accepted && Some(p.verdict.prediction) == p.label
            }),
            rejected: count(&|p| !p.verdict.accepted),
            encoder_fooled: count(&|p| p.verdict.prediction == p.target),
            mean_l2: pairs.iter().map(|p| f64::from(p.l2)).sum::<f64>() / n,
            mean_linf: pairs.iter().map(|p| f64::from(p.linf)).sum::<f64>() / n,
        };
        let mut per_target = BTreeMap::new();
        for p in &pairs {
            let e: &mut (usize, usize, usize) = per_target.entry(p.target).or_default();
            e.0 += 1;
            e.1 += usize::from(p.attacker_wins);
            e.2 += usize::from(!p.verdict.accepted);
        }
        Self {
            kind: kind.to_owned(),
            title: title.to_owned(),
            settings,
            summary,
            per_target,
            loss_trace,
            pairs,
            seconds,
            examples: Some(examples),
        }
    }

    /// The Markdown section.
    pub fn markdown(&self) -> String {
        let s = &self.summary;
        let mut out = format!("### {}\n\n", self.title);
        let _ = writeln!(
            out,
            "Settings: `{}`; {:.0} s.\n",
            self.settings, self.seconds
        );
        let _ = writeln!(out, "| pairs | attacker wins (final) | wins (any iterate) | accepted | accepted as target | accepted as source | rejected | encoder fooled | mean L2 | mean L∞ |");
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.3} |\n",
            s.pairs,
            s.attacker_wins,
            s.attacker_wins_any_iterate,
            s.accepted,
            s.accepted_as_target,
            s.accepted_as_source,
            s.rejected,
            s.encoder_fooled,
            s.mean_l2,
            s.mean_linf
        );
        let _ = writeln!(
            out,
            "| target | pairs | attacker wins | rejected |\n|---:|---:|---:|---:|"
        );
        for (t, (n, w, r)) in &self.per_target {
            let _ = writeln!(out, "| {t} | {n} | {w} | {r} |");
        }
        if let (Some(first), Some(last)) = (self.loss_trace.first(), self.loss_trace.last()) {
            let _ = writeln!(
                out,
                "\nMean loss: {first:.4} before the first step, {last:.4} after the last."
            );
        }
        out
    }

    /// The mean loss (log10) against the step.
    pub fn loss_chart(&self) -> LineChart {
        let points: Vec<(f64, f64)> = self
            .loss_trace
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as f64, f64::from(l).max(1e-12).log10()))
            .collect();
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        LineChart {
            title: format!("{}: mean loss", self.title),
            x_label: "step".into(),
            y_label: "log10 mean loss".into(),
            x_range: (0.0, points.len().saturating_sub(1).max(1) as f64),
            y_range: (lo.floor().min(hi - 1.0), hi.ceil()),
            series: vec![Series {
                name: "mean loss".into(),
                points,
                color: PALETTE[0],
                dots: false,
                error_bars: Vec::new(),
            }],
            markers: vec![],
        }
    }

    /// Writes `<kind>.json`, `<kind>.md`, `<kind>-loss.svg/.png` (the [`loss_chart`]) and
    /// `<kind>-examples.png` into `dir`.
    ///
    /// [`loss_chart`]: Self::loss_chart
    pub fn write(&self, dir: &Path, shape: GridShape) -> Result<Vec<PathBuf>, AttackError> {
        let mut written = Vec::new();
        let json = dir.join(format!("{}.json", self.kind));
        write_json(&json, serde_json::to_string_pretty(self))?;
        written.push(json);
        let md = dir.join(format!("{}.md", self.kind));
        write_file(&md, self.markdown_with_captions().as_bytes())?;
        written.push(md);
        written.extend(write_chart(
            dir,
            &format!("{}-loss", self.kind),
            &self.loss_chart(),
        )?);
        if let Some(examples) = &self.examples {
            written.extend(write_examples(dir, &self.kind, examples, shape)?);
        }
        Ok(written)
    }

    fn markdown_with_captions(&self) -> String {
        let mut md = self.markdown();
        if let Some(e) = &self.examples {
            md.push_str(&captions_markdown(&self.kind, e));
        }
        md
    }
}

impl BoundedRun {
    /// The Markdown table: one row per budget, plus the clean row.
    pub fn markdown(&self) -> String {
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        let auc = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"));
        let mut out = format!("### {}\n\n", self.title);
        let _ = writeln!(
            out,
            "{} inputs; settings: `{}`; {:.0} s.\n",
            self.samples,
            compact(&self.settings),
            self.seconds
        );
        let _ = writeln!(out, "| ε ({}) | accuracy | error (attacker wins) | rejection | rej. by latent | rej. by reconstruction | AUC d² | AUC rec. | AUC combined | mean L∞ | mean L2 |", self.points.first().map_or("linf", |p| p.norm.name()));
        let _ = writeln!(
            out,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let c = &self.clean;
        let _ = writeln!(
            out,
            "| clean | {} | {} | {} | {} | {} | | | | 0 | 0 |",
            pct(c.accuracy),
            pct(c.error),
            pct(c.rejection),
            pct(c.rejected_by_latent),
            pct(c.rejected_by_reconstruction)
        );
        for p in &self.points {
            let m = &p.metrics;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.2} |",
                p.eps,
                pct(m.accuracy),
                pct(m.error),
                pct(m.rejection),
                pct(m.rejected_by_latent),
                pct(m.rejected_by_reconstruction),
                auc(p.auc.latent),
                auc(p.auc.reconstruction),
                auc(p.auc.combined),
                p.mean_linf,
                p.mean_l2
            );
        }
        if let Some(shape) = self.shape() {
            let _ = writeln!(out, "\n{shape}");
        }
        out
    }

    /// With three or more budgets, the shape of the curves (the paper's Figure 3 claim): where
    /// the error peaks, whether it falls again, whether rejection only rises.
    pub fn shape(&self) -> Option<String> {
        if self.points.len() < 3 {
            return None;
        }
        let peak = self
            .points
            .iter()
            .max_by(|a, b| a.metrics.error.total_cmp(&b.metrics.error))?;
        let last = self.points.last()?;
        let rejection_rises = self
            .points
            .windows(2)
            .all(|w| w[1].metrics.rejection >= w[0].metrics.rejection);
        let yes = |b: bool| if b { "yes" } else { "no" };
        Some(format!(
            "Shape: error peaks at {:.2}% (ε = {}) and ends at {:.2}% (ε = {}): falls again after the peak: {}; rejection never decreases as ε grows: {}.",
            100.0 * peak.metrics.error,
            peak.eps,
            100.0 * last.metrics.error,
            last.eps,
            yes(last.metrics.error < peak.metrics.error),
            yes(rejection_rises)
        ))
    }

    /// Writes `<kind>.json`, `<kind>.md`, `<kind>.svg/.png` (the [`figure3`], if there are
    /// several budgets) and `<kind>-examples.png` into `dir`.
    ///
    /// [`figure3`]: Self::figure3
    pub fn write(&self, dir: &Path, shape: GridShape) -> Result<Vec<PathBuf>, AttackError> {
        let mut written = Vec::new();
        let json = dir.join(format!("{}.json", self.kind));
        write_json(&json, serde_json::to_string_pretty(self))?;
        written.push(json);
        let mut md = self.markdown();
        if let Some(e) = &self.examples {
            md.push_str(&captions_markdown(&self.kind, e));
        }
        let path = dir.join(format!("{}.md", self.kind));
        write_file(&path, md.as_bytes())?;
        written.push(path);
        if self.points.len() > 1 {
            written.extend(write_chart(dir, &self.kind, &self.figure3())?);
        }
        if let Some(examples) = &self.examples {
            written.extend(write_examples(dir, &self.kind, examples, shape)?);
        }
        Ok(written)
    }

    /// One metric (percent) against ε as a chart line named `name`.
    pub fn metric_series(
        &self,
        name: String,
        color: &'static str,
        metric: &dyn Fn(&SelectiveMetrics) -> f64,
    ) -> Series {
        Series {
            name,
            points: self
                .points
                .iter()
                .map(|p| (p.eps, 100.0 * metric(&p.metrics)))
                .collect(),
            color,
            dots: true,
            error_bars: Vec::new(),
        }
    }

    /// Accuracy, error and rejection (percent) against ε, in the style of the paper's Figure 3.
    pub fn figure3(&self) -> LineChart {
        let series = |name: &str, color, f: &dyn Fn(&SelectiveMetrics) -> f64| {
            self.metric_series(name.into(), color, f)
        };
        let max_eps = self.points.iter().map(|p| p.eps).fold(0.0, f64::max);
        LineChart {
            title: format!("{} ({} inputs)", self.title, self.samples),
            x_label: format!(
                "ε ({})",
                self.points.first().map_or(Norm::Linf, |p| p.norm).name()
            ),
            y_label: "% of adversarial inputs".into(),
            x_range: (0.0, if max_eps > 0.0 { max_eps } else { 1.0 }),
            y_range: (0.0, 100.0),
            series: vec![
                series("accuracy (accepted, right)", PALETTE[2], &|m| m.accuracy),
                series("error (accepted, wrong)", PALETTE[1], &|m| m.error),
                series("rejection", PALETTE[0], &|m| m.rejection),
            ],
            markers: vec![],
        }
    }
}

/// Writes a chart as `<stem>.svg` and `<stem>.png` into `dir`.
pub fn write_chart(dir: &Path, stem: &str, chart: &LineChart) -> Result<Vec<PathBuf>, AttackError> {
    let svg = dir.join(format!("{stem}.svg"));
    write_file(&svg, chart.to_svg().as_bytes())?;
    let png = dir.join(format!("{stem}.png"));
    write_chart_png(&png, chart)?;
    Ok(vec![svg, png])
}

/// Writes `<kind>-examples.png` into `dir`: adversarial inputs in the first row, reconstructions
/// below.
pub fn write_examples(
    dir: &Path,
    kind: &str,
    e: &Examples,
    shape: GridShape,
) -> Result<Vec<PathBuf>, AttackError> {
    if e.images.is_empty() {
        return Ok(Vec::new());
    }
    let images: Vec<&[f32]> = e
        .images
        .iter()
        .chain(&e.reconstructions)
        .map(Vec::as_slice)
        .collect();
    let path = dir.join(format!("{kind}-examples.png"));
    let grid = GridShape {
        columns: e.images.len(),
        ..shape
    };
    let png = encode_png(&images, grid).map_err(|source| AttackError::Plot {
        path: path.clone(),
        source,
    })?;
    write_file(&path, &png)?;
    Ok(vec![path])
}

fn captions_markdown(kind: &str, e: &Examples) -> String {
    let mut out = format!("\n`{kind}-examples.png` (top: adversarial inputs; bottom: their reconstructions g(f(x))), columns left to right:\n\n");
    for (i, c) in e.captions.iter().enumerate() {
        let _ = writeln!(out, "{}. {c}", i + 1);
    }
    out
}

/// Settings without the bulky per-input fields.
fn compact(settings: &serde_json::Value) -> serde_json::Value {
    let mut s = settings.clone();
    if let Some(map) = s.as_object_mut() {
        map.remove("won_by");
    }
    s
}
