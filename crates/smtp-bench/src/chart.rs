//! docs/bench-sessions.svg: msgs/s against the number of sessions, drawn
//! by hand as SVG (lines through the medians, bars for the min–max spread;
//! sessions on a logarithmic axis). No plotting dependency.

use std::fmt::Write as _;

use crate::SweepPoint;
use crate::stats::{Stats, human, whole};

const WIDTH: f64 = 840.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
/// Room for the legend's longest name at 12 px.
const RIGHT: f64 = 280.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// Which figure of a point a series plots.
type Pick = fn(&SweepPoint) -> &Stats;

/// The series: name, colour, and which figure of a point it plots.
const SERIES: [(&str, &str, Pick); 3] = [
    ("smtp-source → smtp-receive --sink", "#d62728", |p| {
        &p.receive
    }),
    ("smtp-source → Postfix smtp-sink", "#1f77b4", |p| &p.sink),
    ("smtp-send → Postfix smtp-sink", "#2ca02c", |p| &p.send),
];

/// The chart as an SVG document.
pub fn svg(points: &[SweepPoint]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">msgs/s against sessions (10,000-octet messages, loopback; median, min–max bars)</text>"#,
        WIDTH / 2.0
    );
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        out.push_str("</svg>\n");
        return out;
    };
    let x_min = f64::from(first.sessions.max(1)).ln();
    let x_max = f64::from(last.sessions.max(2)).ln().max(x_min + 1e-9);
    let y_top = nice_ceiling(
        points
            .iter()
            .flat_map(|p| SERIES.iter().map(move |(_, _, get)| get(p).max()))
            .filter(|v| v.is_finite())
            .fold(1.0, f64::max),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x =
        |sessions: u32| LEFT + (f64::from(sessions.max(1)).ln() - x_min) / (x_max - x_min) * plot_w;
    let y = |v: f64| TOP + plot_h - v / y_top * plot_h;

    // Axes, grid and tick labels.
    for i in 0..=5 {
        let v = y_top * f64::from(i) / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y(v) + 4.0,
            if v == 0.0 { "0".to_string() } else { human(v) },
            y = y(v)
        );
    }
    for p in points {
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            whole(p.sessions.into()),
            x = x(p.sessions)
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">concurrent sessions (log scale)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">messages per second</text>"#,
        TOP + plot_h / 2.0
    );

    // Series: spread bars, the median line, points, legend.
    for (i, (name, colour, get)) in SERIES.iter().enumerate() {
        let mut path = String::new();
        for p in points {
            let s = get(p);
            if !s.median().is_finite() {
                continue;
            }
            let (px, py) = (x(p.sessions), y(s.median()));
            let _ = write!(
                path,
                "{}{px:.1},{py:.1} ",
                if path.is_empty() { "M" } else { "L" }
            );
            let _ = writeln!(
                out,
                r#"<line x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.5"/><circle cx="{px:.1}" cy="{py:.1}" r="3.5" fill="{colour}"/>"#,
                y(s.min()),
                y(s.max())
            );
        }
        let _ = writeln!(
            out,
            r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.trim_end()
        );
        let ly = TOP + 20.0 + 22.0 * i as f64;
        let lx = LEFT + plot_w + 14.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// 1, 2 or 5 times a power of ten, at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&c| c >= v)
        .unwrap_or(v)
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
    fn a_chart_has_every_series_and_point() {
        let stats = |v: f64| Stats {
            samples: vec![v, v * 1.1],
        };
        let points: Vec<SweepPoint> = [1u32, 10, 100, 1000]
            .iter()
            .map(|&s| SweepPoint {
                sessions: s,
                messages: 6_000,
                receive: stats(1000.0 * f64::from(s)),
                sink: stats(900.0),
                send: stats(800.0),
            })
            .collect();
        let svg = svg(&points);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 12);
        assert!(svg.contains("smtp-send → Postfix smtp-sink"));
        // Sessions to 1,000 on the log axis, labelled with separators.
        assert!(svg.contains(">1,000</text>"));
        assert_eq!(nice_ceiling(1234.0), 2000.0);
        assert_eq!(nice_ceiling(110_000.0), 200_000.0);
    }
}
