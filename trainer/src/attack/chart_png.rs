//! Rasterises a [`LineChart`] (the SVG chart type of `plot::svg`) into a PNG, with a built-in
//! 5×7 pixel font, so every curve is written as both SVG and PNG without new dependencies.

use super::error::write_file;
use super::AttackError;
use crate::plot::svg::{nice_ticks, LineChart};
use std::path::Path;

const WIDTH: usize = 720;
const HEIGHT: usize = 460;
const LEFT: usize = 80;
const RIGHT: usize = 20;
const TOP: usize = 40;
const BOTTOM: usize = 60;

/// An RGB canvas.
struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Self {
            px: vec![255; WIDTH * HEIGHT * 3],
        }
    }

    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < WIDTH && (y as usize) < HEIGHT {
            let at = (y as usize * WIDTH + x as usize) * 3;
            self.px[at..at + 3].copy_from_slice(&c);
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], width: i64) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as i64;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            for dx in 0..width {
                for dy in 0..width {
                    self.set(
                        x.round() as i64 + dx - width / 2,
                        y.round() as i64 + dy - width / 2,
                        c,
                    );
                }
            }
        }
    }

    fn dot(&mut self, (x, y): (f64, f64), r: f64, c: [u8; 3], filled: bool) {
        let ri = r.ceil() as i64 + 1;
        for dx in -ri..=ri {
            for dy in -ri..=ri {
                let d = ((dx * dx + dy * dy) as f64).sqrt();
                if (filled && d <= r) || (!filled && (d - r).abs() < 0.8) {
                    self.set(x.round() as i64 + dx, y.round() as i64 + dy, c);
                }
            }
        }
    }

    /// Draws `text` with its top-left corner at (x, y); `align` 0 = left, 1 = centre, 2 = right.
    fn text(&mut self, text: &str, x: f64, y: f64, align: u8, c: [u8; 3]) {
        let text = ascii(text);
        let w = text.chars().count() as f64 * 6.0;
        let x0 = match align {
            1 => x - w / 2.0,
            2 => x - w,
            _ => x,
        };
        for (k, ch) in text.chars().enumerate() {
            let rows = glyph(ch);
            for (r, bits) in rows.iter().enumerate() {
                for b in 0..5 {
                    if bits & (0x10 >> b) != 0 {
                        self.set((x0 + k as f64 * 6.0) as i64 + b, y as i64 + r as i64, c);
                    }
                }
            }
        }
    }
}

/// The chart as PNG bytes.
pub fn encode_chart(chart: &LineChart) -> Result<Vec<u8>, AttackError> {
    let mut cv = Canvas::new();
    let (x0, x1) = chart.x_range;
    let (y0, y1) = chart.y_range;
    let (pw, ph) = (
        (WIDTH - LEFT - RIGHT) as f64,
        (HEIGHT - TOP - BOTTOM) as f64,
    );
    let sx = |x: f64| LEFT as f64 + (x - x0) / (x1 - x0).max(f64::MIN_POSITIVE) * pw;
    let sy =
        |y: f64| TOP as f64 + ph - (y.clamp(y0, y1) - y0) / (y1 - y0).max(f64::MIN_POSITIVE) * ph;
    let grey = [225, 225, 225];
    let dark = [50, 50, 50];
    cv.text(&chart.title, WIDTH as f64 / 2.0, 12.0, 1, dark);
    // The SVG's round ticks, so that both renderings of a chart read the same.
    for fx in nice_ticks(x0, x1) {
        cv.line((sx(fx), TOP as f64), (sx(fx), TOP as f64 + ph), grey, 1);
        cv.text(&tick(fx), sx(fx), TOP as f64 + ph + 6.0, 1, dark);
    }
    for fy in nice_ticks(y0, y1) {
        cv.line((LEFT as f64, sy(fy)), (LEFT as f64 + pw, sy(fy)), grey, 1);
        cv.text(&tick(fy), LEFT as f64 - 6.0, sy(fy) - 3.0, 2, dark);
    }
    let corners = [
        (LEFT as f64, TOP as f64),
        (LEFT as f64 + pw, TOP as f64),
        (LEFT as f64 + pw, TOP as f64 + ph),
        (LEFT as f64, TOP as f64 + ph),
    ];
    for k in 0..4 {
        cv.line(corners[k], corners[(k + 1) % 4], dark, 1);
    }
    cv.text(
        &chart.x_label,
        LEFT as f64 + pw / 2.0,
        HEIGHT as f64 - 22.0,
        1,
        dark,
    );
    cv.text(&chart.y_label, 6.0, TOP as f64 - 14.0, 0, dark);
    for series in &chart.series {
        let c = rgb(series.color);
        for w in series.points.windows(2) {
            cv.line((sx(w[0].0), sy(w[0].1)), (sx(w[1].0), sy(w[1].1)), c, 2);
        }
        if series.dots {
            for &(x, y) in &series.points {
                cv.dot((sx(x), sy(y)), 3.0, c, true);
            }
        }
        for &(x, low, high) in &series.error_bars {
            let (x, a, b) = (sx(x), sy(low), sy(high));
            cv.line((x, a), (x, b), c, 1);
            cv.line((x - 4.0, a), (x + 4.0, a), c, 1);
            cv.line((x - 4.0, b), (x + 4.0, b), c, 1);
        }
    }
    for m in &chart.markers {
        let c = rgb(m.color);
        let (x, y) = (sx(m.at.0), sy(m.at.1));
        cv.dot((x, y), 5.0, c, false);
        // Labels of points in the right half go to their left, as in the SVG.
        if x > LEFT as f64 + pw / 2.0 {
            cv.text(&m.label, x - 8.0, y - 12.0, 2, c);
        } else {
            cv.text(&m.label, x + 8.0, y - 12.0, 0, c);
        }
    }
    for (i, series) in chart.series.iter().enumerate() {
        let y = TOP as f64 + 12.0 + 14.0 * i as f64;
        let c = rgb(series.color);
        cv.line((LEFT as f64 + 10.0, y), (LEFT as f64 + 30.0, y), c, 2);
        cv.text(&series.name, LEFT as f64 + 36.0, y - 3.0, 0, dark);
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, WIDTH as u32, HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let failed = |source| AttackError::Png {
            title: chart.title.clone(),
            source,
        };
        let mut writer = encoder.write_header().map_err(failed)?;
        writer.write_image_data(&cv.px).map_err(failed)?;
    }
    Ok(bytes)
}

/// Writes the chart as a PNG file atomically.
pub fn write_chart_png(path: &Path, chart: &LineChart) -> Result<(), AttackError> {
    write_file(path, &encode_chart(chart)?)
}

fn rgb(css: &str) -> [u8; 3] {
    let hex = css.trim_start_matches('#');
    let part = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0)
    };
    [part(0), part(2), part(4)]
}

fn tick(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Spells the non-ASCII symbols the charts use in ASCII, upper case (the font has one case).
fn ascii(text: &str) -> String {
    text.replace('ε', "eps")
        .replace('τ', "tau")
        .replace('²', "2")
        .replace(['–', '—'], "-")
        .replace('·', "*")
        .replace('∞', "inf")
        .replace('≤', "<=")
        .to_uppercase()
}

/// The 5×7 bitmap of `ch` (rows top to bottom, bit 4 = leftmost column); unknown = blank.
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '*' => [0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '<' => [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '|' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::svg::{Series, PALETTE};

    #[test]
    fn chart_png_decodes_and_draws_the_series_colour() {
        let chart = LineChart {
            title: "FGSM ε sweep".into(),
            x_label: "ε".into(),
            y_label: "%".into(),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            series: vec![Series {
                name: "rejection".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                color: PALETTE[1],
                dots: true,
                error_bars: Vec::new(),
            }],
            markers: vec![],
        };
        let bytes = encode_chart(&chart).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width as usize, info.height as usize), (WIDTH, HEIGHT));
        let red = rgb(PALETTE[1]);
        assert!(buf.chunks(3).any(|p| p == red));
    }
}
