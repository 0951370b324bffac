//! Server-rendered SVG bar charts: no script, no CDN, and colours as SVG attributes (the
//! CSP forbids inline styles). Each bar carries a `<title>`, so hovering shows its value.
use maud::{Markup, html};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
/// Room for the y-axis labels on the left and the x labels below.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;

/// One stacked series: its name, colour and one value per bucket.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: Vec<i64>,
}

/// Stacked bars, one per label; `title` names the chart for screen readers.
pub fn stacked_bars(title: &str, labels: &[String], series: &[Series<'_>]) -> Markup {
    let totals: Vec<i64> =
        (0..labels.len()).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0)).sum()).collect();
    let top = nice_ceiling(totals.iter().copied().max().unwrap_or(0));
    let plot = HEIGHT - BOTTOM;
    let slot = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |value: i64| plot - value as f64 / top as f64 * (plot - 8.0);
    // (x, top y, height, colour, tooltip) of every non-empty segment.
    let mut segments = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let mut base = 0;
        for s in series {
            let value = s.values.get(i).copied().unwrap_or(0);
            if value > 0 {
                segments.push((
                    x,
                    y(base + value),
                    y(base) - y(base + value),
                    s.colour,
                    format!("{label} · {}: {value}", s.name),
                ));
            }
            base += value;
        }
    }
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
                @for step in 0..=4 {
                    @let value = top * step / 4;
                    line x1=(LEFT) x2=(WIDTH) y1=(y(value)) y2=(y(value)) stroke="#dde1e6" {}
                    text x=(LEFT - 6.0) y=(y(value) + 4.0) text-anchor="end" font-size="11" fill="#5c6470" { (value) }
                }
                @for (x, top_y, height, colour, tip) in &segments {
                    rect x=(x) y=(top_y) width=(bar) height=(height) fill=(colour) { title { (tip) } }
                }
                @for (i, label) in labels.iter().enumerate() {
                    @if shows_label(i, labels.len()) {
                        @let (x, anchor) = label_position(i, labels.len(), slot);
                        text x=(x) y=(HEIGHT - 6.0) text-anchor=(anchor) font-size="11" fill="#5c6470" { (label) }
                    }
                }
            }
            figcaption {
                @for s in series {
                    span.legend {
                        svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true" { rect width="10" height="10" fill=(s.colour) {} }
                        " " (s.name)
                    }
                }
            }
        }
    }
}

/// Where a bucket's label goes: the outer ones are anchored inwards so they are not cut off.
fn label_position(i: usize, count: usize, slot: f64) -> (f64, &'static str) {
    match i {
        0 => (LEFT + 2.0, "start"),
        i if i + 1 == count => (WIDTH - 2.0, "end"),
        i => (LEFT + i as f64 * slot + slot / 2.0, "middle"),
    }
}

/// First, last and a few between: labels never overlap.
fn shows_label(i: usize, count: usize) -> bool {
    let every = count.div_ceil(6).max(1);
    i == 0 || i + 1 == count || (i.is_multiple_of(every) && count - i > every / 2)
}

/// The axis top: 1, 2 or 5 times a power of ten, at least `max` (and at least 1).
pub fn nice_ceiling(max: i64) -> i64 {
    let mut power = 1;
    loop {
        for step in [1, 2, 5] {
            if step * power >= max.max(1) {
                return step * power;
            }
        }
        power *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!([0, 1, 3, 7, 10, 11, 240, 999].map(nice_ceiling), [1, 1, 5, 10, 10, 20, 500, 1000]);
    }

    #[test]
    fn bars_stack_escape_and_skip_zeros() {
        let labels = vec!["<b>".to_string(), "2".to_string()];
        let series = [
            Series { name: "bot", colour: "#0f5132", values: vec![3, 0] },
            Series { name: "owner", colour: "#d97706", values: vec![1, 2] },
        ];
        let svg = stacked_bars("t", &labels, &series).into_string();
        assert_eq!(svg.matches("<rect x=").count(), 3, "{svg}");
        assert!(svg.contains("&lt;b&gt; · bot: 3") && !svg.contains("<b>"), "{svg}");
        assert!(!svg.contains("style="), "the CSP forbids inline styles");
    }
}
