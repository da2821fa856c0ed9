//! Bar charts as SVG, drawn on the server (no JavaScript, no build step). Colours come from the
//! stylesheet's variables, so a chart follows the light and dark themes; each bar has a `<title>`
//! (its value on hover) and links to the rows behind it. A chart is a picture of the table that
//! always follows it, which holds the same figures and links: the drawing is hidden from screen
//! readers and its links from the Tab key, and the caption says where the figures are.

use maud::{html, Markup};

/// One bar.
pub struct Bar {
    /// Under the bar (columns) or beside it (rows).
    pub label: String,
    pub value: f64,
    /// As read on hover: "2026-12-07: 1.23 USD".
    pub title: String,
    pub href: Option<String>,
}

/// A round step for `max / 4`: 1, 2 or 5 times a power of ten.
fn step_for(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 4.0;
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    power
        * if m <= 1.0 {
            1.0
        } else if m <= 2.0 {
            2.0
        } else if m <= 5.0 {
            5.0
        } else {
            10.0
        }
}

fn tick(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// Vertical bars over time: one per period, left to right. `table` is the id of the table the
/// chart pictures.
pub fn columns(id: &str, caption: &str, unit: &str, bars: &[Bar], table: &str) -> Markup {
    const W: f64 = 600.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 28.0;
    // Room above the axis for the unit.
    const TOP: f64 = 24.0;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let step = step_for(max);
    let top = (max / step).ceil().max(1.0) * step;
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let n = bars.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.7).max(1.0);
    // At most about 12 labels under the axis.
    let every = (bars.len() / 12).max(1);
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let ticks: Vec<f64> = (0..=((top / step).round() as usize)).map(|i| i as f64 * step).collect();
    html! {
        figure.chart id=(id) {
            figcaption id={(id) "-caption"} { (caption) span.sr { ": the figures are in the table below" } }
            svg viewBox={"0 0 " (W) " " (H)} aria-hidden="true" focusable="false" data-table=(table)
                preserveAspectRatio="xMidYMid meet" {
                @for t in &ticks {
                    line.grid x1=(LEFT) x2=(W - 8.0) y1=(y(*t)) y2=(y(*t)) {}
                    text.axis x=(LEFT - 6.0) y=(y(*t) + 4.0) text-anchor="end" { (tick(*t)) }
                }
                text.axis x="4" y="12" { (unit) }
                @for (i, b) in bars.iter().enumerate() {
                    @let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
                    @let h = (b.value / top * plot_h).max(if b.value > 0.0 { 1.0 } else { 0.0 });
                    @match &b.href {
                        Some(href) => a href=(href) tabindex="-1" {
                            rect.bar x=(x) y=(TOP + plot_h - h) width=(bar_w) height=(h) { title { (b.title) } }
                            rect.hit x=(LEFT + slot * i as f64) y=(TOP) width=(slot) height=(plot_h) { title { (b.title) } }
                        },
                        None => rect.bar x=(x) y=(TOP + plot_h - h) width=(bar_w) height=(h) { title { (b.title) } },
                    }
                    @if i % every == 0 {
                        text.axis x=(LEFT + slot * i as f64 + slot / 2.0) y=(H - 8.0) text-anchor="middle" { (b.label) }
                    }
                }
                line.axis-line x1=(LEFT) x2=(W - 8.0) y1=(TOP + plot_h) y2=(TOP + plot_h) {}
            }
        }
    }
}

/// Horizontal bars, largest first: one per category, number, sender, ticket or customer.
pub fn rows(id: &str, caption: &str, unit: &str, bars: &[Bar], table: &str) -> Markup {
    const W: f64 = 600.0;
    const ROW: f64 = 28.0;
    const LABEL: f64 = 170.0;
    const VALUE: f64 = 80.0;
    let h = ROW * bars.len().max(1) as f64 + 8.0;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let plot_w = W - LABEL - VALUE;
    let clip = |s: &str| if s.chars().count() > 22 { format!("{}…", s.chars().take(21).collect::<String>()) } else { s.to_owned() };
    html! {
        figure.chart id=(id) {
            figcaption id={(id) "-caption"} { (caption) " (" (unit) ")" span.sr { ": the figures are in the table below" } }
            svg viewBox={"0 0 " (W) " " (h)} aria-hidden="true" focusable="false" data-table=(table)
                preserveAspectRatio="xMidYMid meet" {
                @for (i, b) in bars.iter().enumerate() {
                    @let y = 4.0 + ROW * i as f64;
                    @let w = if max > 0.0 { (b.value / max * plot_w).max(if b.value > 0.0 { 1.0 } else { 0.0 }) } else { 0.0 };
                    text.axis x=(LABEL - 8.0) y=(y + ROW / 2.0 + 4.0) text-anchor="end" { (clip(&b.label)) }
                    @match &b.href {
                        Some(href) => a href=(href) tabindex="-1" {
                            rect.bar x=(LABEL) y=(y + 3.0) width=(w) height=(ROW - 8.0) { title { (b.title) } }
                        },
                        None => rect.bar x=(LABEL) y=(y + 3.0) width=(w) height=(ROW - 8.0) { title { (b.title) } },
                    }
                    text.value x=(LABEL + w + 6.0) y=(y + ROW / 2.0 + 4.0) { (tick(b.value)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round_and_cover_the_largest_bar() {
        assert_eq!(step_for(0.0), 1.0);
        assert_eq!(step_for(3.9), 1.0);
        assert_eq!(step_for(7.0), 2.0);
        assert_eq!(step_for(0.13), 0.05);
        assert_eq!(tick(0.1500), "0.15");
        assert_eq!(tick(0.0), "0");
        let bars = vec![
            Bar { label: "a".into(), value: 2.5, title: "a: 2.5".into(), href: Some("/x?row=a".into()) },
            Bar { label: "b".into(), value: 0.0, title: "b: 0".into(), href: None },
        ];
        let svg = columns("c", "Cost", "USD", &bars, "t").into_string();
        assert!(svg.contains(r#"data-table="t""#) && svg.contains("<title>a: 2.5</title>") && svg.contains(r#"href="/x?row=a""#));
        assert!(svg.contains(">3<"), "the axis reaches past the largest bar: {svg}");
        assert!(rows("r", "Cost", "USD", &bars, "t").into_string().contains(">2.5<"));
    }
}
