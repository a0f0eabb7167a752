//! Hand-written SVG line charts (hit ratio against capacity), one line per cache.

use std::fmt::Write as _;

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Legend label.
    pub(crate) label: String,
    /// `(x, y)` points in data units, in x order; `None` y values are skipped.
    pub(crate) points: Vec<(f64, Option<f64>)>,
    /// Draw dashed (for the reference policies OPT and LRU).
    pub(crate) dashed: bool,
}

/// A chart of several series sharing axes.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// Title at the top.
    pub(crate) title: String,
    /// X axis label.
    pub(crate) x_label: String,
    /// Y axis label.
    pub(crate) y_label: String,
    /// The lines.
    pub(crate) series: Vec<Series>,
}

const PALETTE: [&str; 8] = [
    "#222222", "#999999", "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;

/// Data-to-pixel mapping of the plot area.
#[derive(Debug, Clone, Copy)]
struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    const W: f64 = WIDTH - LEFT - RIGHT;
    const H: f64 = HEIGHT - TOP - BOTTOM;

    /// X from 0 to the largest x; Y from 0 to the largest y rounded up to a multiple of 10 (up to 50)
    /// or 20 (above), at most 100.
    fn fit(series: &[Series]) -> Self {
        let x_max = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(0.0f64, f64::max)
            .max(1.0);
        let y_top = series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1))
            .fold(0.0f64, f64::max);
        let y_max = if y_top <= 50.0 {
            ((y_top / 10.0).ceil() * 10.0).max(10.0)
        } else {
            ((y_top / 20.0).ceil() * 20.0).min(100.0)
        };
        Self { x_max, y_max }
    }

    fn px(self, x: f64) -> f64 {
        LEFT + x / self.x_max * Self::W
    }

    fn py(self, y: f64) -> f64 {
        TOP + Self::H - y / self.y_max * Self::H
    }
}

impl Chart {
    /// Renders the chart as a standalone SVG document.
    pub(crate) fn render(&self) -> String {
        let frame = Frame::fit(&self.series);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            LEFT + Frame::W / 2.0,
            escape(&self.title)
        );
        self.axes(&mut svg, frame);
        self.lines(&mut svg, frame);
        self.legend(&mut svg);
        svg.push_str("</svg>\n");
        svg
    }

    /// Grid, ticks (y every 10 or 20 points, x in fifths), the plot border and axis labels.
    fn axes(&self, svg: &mut String, frame: Frame) {
        let y_step = if frame.y_max <= 50.0 { 10.0 } else { 20.0 };
        for i in 0..=((frame.y_max / y_step) as u32) {
            let y = y_step * f64::from(i);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#e5e5e5"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{y:.0}</text>"##,
                frame.py(y),
                LEFT + Frame::W,
                LEFT - 6.0,
                frame.py(y) + 4.0
            );
        }
        for i in 0..=5 {
            let x = frame.x_max * f64::from(i) / 5.0;
            let _ = writeln!(
                svg,
                r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#e5e5e5"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
                frame.px(x),
                TOP + Frame::H,
                TOP + Frame::H + 18.0,
                format_tick(x)
            );
        }
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
            Frame::W,
            Frame::H
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + Frame::W / 2.0,
            HEIGHT - 14.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
            TOP + Frame::H / 2.0,
            escape(&self.y_label)
        );
    }

    /// Lines and markers; reference (dashed) lines last so they stay visible where a cache matches them.
    fn lines(&self, svg: &mut String, frame: Frame) {
        let solid = (0..self.series.len()).filter(|&i| !self.series[i].dashed);
        let dashed = (0..self.series.len()).filter(|&i| self.series[i].dashed);
        for i in solid.chain(dashed) {
            let series = &self.series[i];
            let color = PALETTE[i % PALETTE.len()];
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter_map(|&(x, y)| y.map(|y| (frame.px(x), frame.py(y))))
                .collect();
            if points.is_empty() {
                continue;
            }
            let coords: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2"{} points="{}"/>"#,
                dash(series),
                coords.join(" ")
            );
            for (x, y) in &points {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
                );
            }
        }
    }

    /// One legend line per series, in series order; a series without points is marked "(n/a)".
    fn legend(&self, svg: &mut String) {
        for (i, series) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let ly = TOP + 10.0 + 20.0 * i as f64;
            let lx = WIDTH - RIGHT + 14.0;
            let note = if series.points.iter().all(|p| p.1.is_none()) {
                " (n/a)"
            } else {
                ""
            };
            let _ = writeln!(
                svg,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"{}/><text x="{}" y="{}">{}{note}</text>"#,
                lx + 24.0,
                dash(series),
                lx + 30.0,
                ly + 4.0,
                escape(&series.label)
            );
        }
    }
}

fn dash(series: &Series) -> &'static str {
    if series.dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    }
}

fn format_tick(x: f64) -> String {
    if x >= 10_000.0 && (x / 1000.0).fract() == 0.0 {
        format!("{}k", x / 1000.0)
    } else {
        format!("{x:.0}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lines_legend_and_escapes_labels() {
        let chart = Chart {
            title: "t".into(),
            x_label: "capacity".into(),
            y_label: "hit %".into(),
            series: vec![
                Series {
                    label: "Mutex<lru>".into(),
                    points: vec![(10.0, Some(5.0)), (20.0, Some(50.0))],
                    dashed: false,
                },
                Series {
                    label: "missing".into(),
                    points: vec![(10.0, None)],
                    dashed: true,
                },
            ],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("Mutex&lt;lru&gt;"));
        assert!(svg.contains("missing (n/a)"));
    }
}
