//! Minimal, dependency-free SVG charts: line charts with axes, ticks, legend and markers, and
//! annotated heat maps.

use std::fmt::Write;

/// One named line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<(f64, f64)>,
    /// CSS colour.
    pub color: &'static str,
    /// Draw dots at the points as well as the line.
    pub dots: bool,
    /// Vertical error bars `(x, low, high)` in the series' colour (e.g. confidence
    /// intervals of the points); empty for none.
    pub error_bars: Vec<(f64, f64, f64)>,
}

/// A labelled point to highlight (e.g. the calibrated operating point).
#[derive(Clone, Debug)]
pub struct Marker {
    /// Label drawn beside the point.
    pub label: String,
    /// Position.
    pub at: (f64, f64),
    /// CSS colour.
    pub color: &'static str,
}

/// A line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// X range.
    pub x_range: (f64, f64),
    /// Y range.
    pub y_range: (f64, f64),
    /// Lines.
    pub series: Vec<Series>,
    /// Highlighted points.
    pub markers: Vec<Marker>,
}

/// A palette of distinguishable colours for series.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;

impl LineChart {
    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let pw = WIDTH - LEFT - RIGHT;
        let ph = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0).max(f64::MIN_POSITIVE) * pw;
        let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0).max(f64::MIN_POSITIVE) * ph;
        let mut s = header(WIDTH, HEIGHT);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="16">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for fx in nice_ticks(x0, x1) {
            let _ = writeln!(
                s,
                r##"<line x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="#e5e5e5"/><text x="{x}" y="{ty}" text-anchor="middle" font-size="11">{fx}</text>"##,
                x = sx(fx),
                t = TOP,
                b = TOP + ph,
                ty = TOP + ph + 16.0,
                fx = tick(fx)
            );
        }
        for fy in nice_ticks(y0, y1) {
            let _ = writeln!(
                s,
                r##"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#e5e5e5"/><text x="{tx}" y="{ty}" text-anchor="end" font-size="11">{fy}</text>"##,
                l = LEFT,
                r = LEFT + pw,
                y = sy(fy),
                tx = LEFT - 6.0,
                ty = sy(fy) + 4.0,
                fy = tick(fy)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text>"#,
            LEFT + pw / 2.0,
            HEIGHT - 14.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text x="16" y="{}" text-anchor="middle" font-size="13" transform="rotate(-90 16 {})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        for series in &self.series {
            let path: Vec<String> = series
                .points
                .iter()
                .map(|&(x, y)| format!("{:.2},{:.2}", sx(x), sy(y.clamp(y0, y1))))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
                path.join(" "),
                series.color
            );
            if series.dots {
                for &(x, y) in &series.points {
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{:.2}" cy="{:.2}" r="3" fill="{}"/>"#,
                        sx(x),
                        sy(y.clamp(y0, y1)),
                        series.color
                    );
                }
            }
            for &(x, low, high) in &series.error_bars {
                let (x, a, b) = (sx(x), sy(low.clamp(y0, y1)), sy(high.clamp(y0, y1)));
                let _ = writeln!(
                    s,
                    r#"<path d="M{x:.2},{a:.2}V{b:.2}M{l:.2},{a:.2}H{r:.2}M{l:.2},{b:.2}H{r:.2}" stroke="{c}" stroke-width="1.5" fill="none"/>"#,
                    l = x - 4.0,
                    r = x + 4.0,
                    c = series.color
                );
            }
        }
        for m in &self.markers {
            let (x, y) = (sx(m.at.0), sy(m.at.1.clamp(y0, y1)));
            // Labels of points in the right half go to their left so they stay on the canvas.
            let (tx, anchor) = if x > LEFT + pw / 2.0 {
                (x - 8.0, "end")
            } else {
                (x + 8.0, "start")
            };
            let _ = writeln!(
                s,
                r##"<circle cx="{x:.2}" cy="{y:.2}" r="5" fill="none" stroke="{c}" stroke-width="2"/><text x="{tx:.2}" y="{ty:.2}" font-size="11" text-anchor="{anchor}" fill="{c}">{l}</text>"##,
                c = m.color,
                ty = y - 8.0,
                l = escape(&m.label)
            );
        }
        for (i, series) in self.series.iter().enumerate() {
            let y = TOP + 16.0 + 16.0 * i as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" stroke="{c}" stroke-width="2"/><text x="{t}" y="{ty}" font-size="11">{n}</text>"#,
                a = LEFT + 12.0,
                b = LEFT + 32.0,
                c = series.color,
                t = LEFT + 38.0,
                ty = y + 4.0,
                n = escape(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// A heat map of counts with row and column labels (e.g. a confusion matrix).
pub fn heat_map(
    title: &str,
    row_label: &str,
    column_label: &str,
    rows: &[String],
    columns: &[String],
    counts: &[Vec<usize>],
) -> String {
    let cell = 34.0;
    let left = 110.0;
    let top = 70.0;
    let width = left + cell * columns.len() as f64 + 20.0;
    let height = top + cell * rows.len() as f64 + 40.0;
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = header(width, height);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="44" text-anchor="middle" font-size="12">{}</text>"#,
        left + cell * columns.len() as f64 / 2.0,
        escape(column_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{}" font-size="12" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>"#,
        top + cell * rows.len() as f64 / 2.0,
        top + cell * rows.len() as f64 / 2.0,
        escape(row_label)
    );
    for (j, name) in columns.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="10">{}</text>"#,
            left + cell * (j as f64 + 0.5),
            top - 6.0,
            escape(&short(name))
        );
    }
    for (i, name) in rows.iter().enumerate() {
        let y = top + cell * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="10">{}</text>"#,
            left - 6.0,
            y + cell / 2.0 + 4.0,
            escape(&short(name))
        );
        for (j, &count) in counts[i].iter().enumerate() {
            // Log scale so the few off-diagonal counts stay visible next to the diagonal.
            let shade = (1.0 + count as f64).ln() / (1.0 + max).ln();
            let level = (255.0 * (1.0 - 0.85 * shade)) as u8;
            let text = if shade > 0.6 { "#fff" } else { "#000" };
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({level},{level},255)" stroke="#fff"/><text x="{tx}" y="{ty}" text-anchor="middle" font-size="10" fill="{text}">{count}</text>"##,
                x = left + cell * j as f64,
                tx = left + cell * (j as f64 + 0.5),
                ty = y + cell / 2.0 + 4.0,
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn header(width: f64, height: f64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>
"#
    )
}

fn short(name: &str) -> String {
    name.chars().take(11).collect()
}

/// Round tick positions (steps of 1, 2 or 5 times a power of ten) covering `lo..=hi`.
pub fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / 5.0;
    // Ticks are integers times a power of ten, built from exact integers and an exact
    // power of ten so that 3 x 0.2 prints as 0.6 whatever libm's `powf` rounds to.
    let exponent = raw.log10().floor() as i32;
    if !(-22..=22).contains(&exponent) {
        // Beyond the exactly representable powers of ten: just the two ends.
        return vec![lo, hi];
    }
    let scale = |units: i64| {
        if exponent >= 0 {
            units as f64 * 10f64.powi(exponent)
        } else {
            units as f64 / 10f64.powi(-exponent)
        }
    };
    let multiple = [1, 2, 5, 10]
        .into_iter()
        .find(|&m| scale(m) >= raw)
        .unwrap_or(10);
    let step = scale(multiple);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| scale(k * multiple)).collect()
}

fn tick(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_is_well_formed_and_escaped() {
        let chart = LineChart {
            title: "risk <vs> coverage".into(),
            x_label: "coverage".into(),
            y_label: "risk".into(),
            x_range: (0.0, 1.0),
            y_range: (0.0, 0.1),
            series: vec![Series {
                name: "a & b".into(),
                points: vec![(0.0, 0.0), (0.5, 0.01), (1.0, 0.03)],
                color: PALETTE[0],
                dots: true,
                // One bar inside the plot, one clipped to its top.
                error_bars: vec![(0.5, 0.005, 0.015), (1.0, 0.02, 0.5)],
            }],
            markers: vec![Marker {
                label: "τ".into(),
                at: (0.95, 0.005),
                color: PALETTE[1],
            }],
        };
        let svg = chart.to_svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("risk &lt;vs&gt; coverage") && svg.contains("a &amp; b"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 4);
        // Each bar: a vertical stroke with a cap at both ends, in the series' colour; the
        // clipped one ends at the top of the plot (y = 40).
        assert_eq!(svg.matches(r#"stroke-width="1.5""#).count(), 2);
        assert!(svg.contains("V40.00M"), "{svg}");
    }

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 1.3), vec![0.0, 0.5, 1.0]);
        assert_eq!(nice_ticks(0.0, 0.013), vec![0.0, 0.005, 0.01]);
        let t = nice_ticks(0.0, 0.01);
        assert_eq!(t.len(), 6, "{t:?}");
        assert_eq!(tick(t[3]), "0.006");
        assert_eq!(nice_ticks(1.0, 1.0), vec![1.0]);
    }

    #[test]
    fn heat_map_has_one_cell_per_count() {
        let names: Vec<String> = ["0", "1"].iter().map(|s| s.to_string()).collect();
        let svg = heat_map(
            "c",
            "true",
            "predicted",
            &names,
            &names,
            &[vec![5, 1], vec![0, 7]],
        );
        assert_eq!(svg.matches("<rect x=").count(), 4);
    }
}
