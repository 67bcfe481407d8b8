//! Charts drawn on the server as inline SVG: a line chart over time and a grouped bar
//! chart. No script and no external asset: each chart is an `<svg role="img">` with an
//! `aria-label` and a `<title>`, axis labels, a legend, and a `<title>` tooltip on every
//! point and bar (what a pointer hovering over it shows).

use super::escape;
use std::fmt::Write;

const W: f64 = 560.0;
const H: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;

/// Colours of the series, in order (distinct for common colour blindness).
pub const COLOURS: [&str; 6] = [
    "#1f6fb2", "#d9730d", "#2e8540", "#9b3fb5", "#b00020", "#6b6b6b",
];

/// How the values of a chart read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Whole counts.
    Count,
    /// A ratio shown as a percentage (0..=1).
    Percent,
    /// Seconds.
    Seconds,
    /// Money in the prices' unit.
    Money,
}

impl Unit {
    fn fmt(self, v: f64) -> String {
        match self {
            Unit::Count => format!("{}", v.round() as i64),
            Unit::Percent => format!("{:.0} %", v * 100.0),
            Unit::Seconds => format!("{v} s"),
            Unit::Money => format!("{v:.2}"),
        }
    }
}

/// One named line of a chart; `None` where there is no value (nothing to divide).
pub struct Series {
    /// The legend's name.
    pub name: String,
    /// A value per point of the x axis.
    pub points: Vec<Option<f64>>,
}

fn open(h: &mut String, id: &str, label: &str) {
    let _ = write!(
        h,
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{l}\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{l}</title><text x=\"8\" y=\"16\" font-size=\"12\" font-weight=\"bold\">{l}</text>",
        l = escape(label)
    );
}

/// The y axis: gridlines and labels from 0 to `max`, and the x axis line.
fn y_axis(h: &mut String, max: f64, unit: Unit) {
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - i as f64 / 4.0);
        let _ = write!(
            h,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e2e2e2\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 3.0,
            unit.fmt(v)
        );
    }
    let _ = write!(
        h,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#888\"/>",
        H - BOTTOM
    );
}

fn legend(h: &mut String, names: &[&str]) {
    let mut x = LEFT;
    for (i, name) in names.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let _ = write!(
            h,
            "<rect x=\"{x:.0}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{c}\"/><text x=\"{:.0}\" y=\"{}\" font-size=\"11\">{}</text>",
            H - 13.0,
            x + 14.0,
            H - 4.0,
            escape(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
}

/// A rounded-up axis maximum for values up to `v`.
fn nice_max(v: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Percent => 1.0,
        _ if v <= 0.0 => 4.0,
        _ => {
            let mag = 10f64.powf(v.log10().floor());
            let m = [1.0, 2.0, 4.0, 5.0, 10.0]
                .into_iter()
                .map(|f| f * mag)
                .find(|m| *m >= v)
                .unwrap_or(10.0 * mag);
            if unit == Unit::Count {
                m.max(4.0)
            } else {
                m
            }
        }
    }
}

/// A line chart of `series` over `labels` (the x axis: a label per point, a few shown).
pub fn lines(id: &str, label: &str, labels: &[String], series: &[Series], unit: Unit) -> String {
    let mut h = String::with_capacity(8192);
    open(&mut h, id, label);
    let n = labels.len().max(1);
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let max = nice_max(max, unit);
    y_axis(&mut h, max, unit);
    let step = (W - LEFT - RIGHT) / (n.max(2) - 1) as f64;
    let x_of = |i: usize| LEFT + step * i as f64;
    let y_of = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v / max).min(1.0));
    let every = n.div_ceil(6).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                h,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                x_of(i),
                H - BOTTOM + 13.0,
                escape(l)
            );
        }
    }
    for (si, s) in series.iter().enumerate() {
        let c = COLOURS[si % COLOURS.len()];
        let mut d = String::new();
        let mut pen_up = true;
        for (i, p) in s.points.iter().enumerate() {
            match p {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1} ",
                        if pen_up { "M" } else { "L" },
                        x_of(i),
                        y_of(*v)
                    );
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        let _ = write!(
            h,
            "<path d=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>",
            d.trim_end()
        );
        for (i, p) in s.points.iter().enumerate() {
            if let Some(v) = p {
                let _ = write!(
                    h,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{c}\"><title>{}: {} at {}</title></circle>",
                    x_of(i),
                    y_of(*v),
                    escape(&s.name),
                    unit.fmt(*v),
                    escape(labels.get(i).map_or("", |l| l.as_str()))
                );
            }
        }
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&mut h, &names);
    h.push_str("</svg>");
    h
}

/// A grouped bar chart: a group per entry of `groups` (its label and a value per name
/// in `names`), bars coloured by name.
pub fn bars(
    id: &str,
    label: &str,
    names: &[&str],
    groups: &[(String, Vec<f64>)],
    unit: Unit,
) -> String {
    let mut h = String::with_capacity(4096);
    open(&mut h, id, label);
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter())
        .fold(0.0f64, |a, b| a.max(*b));
    let max = nice_max(max, unit);
    y_axis(&mut h, max, unit);
    let slot = (W - LEFT - RIGHT) / groups.len().max(1) as f64;
    let bar = (slot * 0.8 / names.len().max(1) as f64).min(40.0);
    for (gi, (g, values)) in groups.iter().enumerate() {
        let x0 = LEFT + slot * gi as f64 + (slot - bar * values.len() as f64) / 2.0;
        for (vi, v) in values.iter().enumerate() {
            let c = COLOURS[vi % COLOURS.len()];
            let top = TOP + (H - TOP - BOTTOM) * (1.0 - (v / max).min(1.0));
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{c}\"><title>{} {}: {}</title></rect>",
                x0 + bar * vi as f64,
                (bar - 2.0).max(1.0),
                (H - BOTTOM - top).max(0.0),
                escape(g),
                escape(names.get(vi).copied().unwrap_or("")),
                unit.fmt(*v)
            );
        }
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
            LEFT + slot * (gi as f64 + 0.5),
            H - BOTTOM + 13.0,
            escape(g)
        );
    }
    if groups.is_empty() {
        let _ = write!(
            h,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">nothing in this window</text>",
            W / 2.0,
            H / 2.0
        );
    }
    legend(&mut h, names);
    h.push_str("</svg>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_is_accessible_and_tells_each_point() {
        let labels: Vec<String> = (0..3).map(|i| format!("10:0{i}")).collect();
        let s = Series {
            name: "starts <a>".into(),
            points: vec![Some(1.0), None, Some(3.0)],
        };
        let svg = lines("c", "Starts & approvals", &labels, &[s], Unit::Count);
        assert!(svg.starts_with(
            "<svg id=\"c\" class=\"chart\" role=\"img\" aria-label=\"Starts &amp; approvals\""
        ));
        assert!(
            svg.contains("<title>starts &lt;a&gt;: 3 at 10:02</title>"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "no point where there is no value"
        );
        assert!(svg.contains("M") && svg.ends_with("</svg>"));
    }

    #[test]
    fn bars_scale_to_a_round_maximum_and_say_when_empty() {
        let svg = bars(
            "b",
            "x",
            &["p50", "p95"],
            &[("tw".into(), vec![2.0, 7.0])],
            Unit::Seconds,
        );
        assert!(svg.contains("<title>tw p95: 7 s</title>"), "{svg}");
        assert!(svg.contains(">10 s</text>"), "axis up to 10 s: {svg}");
        assert!(bars("b", "x", &["n"], &[], Unit::Count).contains("nothing in this window"));
        assert_eq!(nice_max(0.0, Unit::Count), 4.0);
        assert_eq!(nice_max(23.0, Unit::Count), 40.0);
    }
}
