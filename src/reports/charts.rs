//! Bar charts as geometry for an SVG template (`views/partials/chart.hbs`): drawn on
//! the server so they show with JavaScript off, print sharply and load nothing.
//! Only the coordinates are computed here; the markup stays in the template, where
//! handlebars escapes every label.

use serde::Serialize;

/// Series colours, chosen to stay apart in greyscale print as well.
const COLOURS: [&str; 3] = ["#1f5fa8", "#e08a1e", "#6b8e23"];

#[derive(Debug, Serialize)]
pub struct Chart {
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    pub labels: Vec<Label>,
    pub gridlines: Vec<Gridline>,
    pub legend: Vec<LegendItem>,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub fill: &'static str,
    /// Shown on hover and read by screen readers: `2025-04 受付: 12`.
    pub tooltip: String,
}

#[derive(Debug, Serialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    /// `start`, `middle` or `end`.
    pub anchor: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Gridline {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    pub label_x: f64,
    pub label_y: f64,
    pub text: String,
    pub anchor: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LegendItem {
    pub x: f64,
    pub y: f64,
    pub fill: &'static str,
    pub text: String,
}

/// One named row of values, one value per category.
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A round upper bound for the axis and its step: 0, step, 2·step … ≥ max.
fn scale(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 1.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn max_of(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max)
}

fn legend(series: &[Series], x: f64, y: f64) -> Vec<LegendItem> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| LegendItem {
            x: x + 150.0 * i as f64,
            y,
            fill: COLOURS[i % COLOURS.len()],
            text: s.name.clone(),
        })
        .collect()
}

/// Vertical grouped columns, one group per category (months across the page).
pub fn columns(title: &str, categories: &[String], series: &[Series]) -> Chart {
    let (width, height) = (720u32, 300u32);
    let (left, right, top, bottom) = (48.0, 12.0, 30.0, 40.0);
    let plot_w = width as f64 - left - right;
    let plot_h = height as f64 - top - bottom;
    let (top_value, step) = scale(max_of(series));
    let group_w = plot_w / categories.len().max(1) as f64;
    let bar_w = group_w * 0.8 / series.len().max(1) as f64;
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, category) in categories.iter().enumerate() {
        let group_x = left + group_w * i as f64 + group_w * 0.1;
        for (k, s) in series.iter().enumerate() {
            let value = s.values.get(i).copied().unwrap_or(0.0);
            let h = plot_h * value / top_value;
            bars.push(Bar {
                x: group_x + bar_w * k as f64,
                y: top + plot_h - h,
                width: bar_w,
                height: h,
                fill: COLOURS[k % COLOURS.len()],
                tooltip: format!("{category} {}: {}", s.name, number(value)),
            });
        }
        labels.push(Label {
            x: left + group_w * (i as f64 + 0.5),
            y: top + plot_h + 16.0,
            text: category.clone(),
            anchor: "middle",
        });
    }
    let gridlines = (0..=((top_value / step).round() as usize))
        .map(|n| {
            let value = step * n as f64;
            let y = top + plot_h - plot_h * value / top_value;
            Gridline {
                x1: left,
                y1: y,
                x2: width as f64 - right,
                y2: y,
                label_x: left - 6.0,
                label_y: y + 4.0,
                text: number(value),
                anchor: "end",
            }
        })
        .collect();
    Chart {
        title: title.to_string(),
        width,
        height,
        bars,
        labels,
        gridlines,
        legend: legend(series, left, 14.0),
    }
}

/// Horizontal grouped bars, one row per category (states, stages, divisions).
pub fn bars(title: &str, categories: &[String], series: &[Series]) -> Chart {
    let width = 720u32;
    let (left, right, top) = (170.0, 60.0, 30.0);
    let row_h = 10.0 + 14.0 * series.len() as f64;
    let plot_h = row_h * categories.len() as f64;
    let height = (top + plot_h + 24.0).ceil() as u32;
    let plot_w = width as f64 - left - right;
    let (top_value, step) = scale(max_of(series));
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, category) in categories.iter().enumerate() {
        let row_y = top + row_h * i as f64 + 5.0;
        for (k, s) in series.iter().enumerate() {
            let value = s.values.get(i).copied().unwrap_or(0.0);
            let w = plot_w * value / top_value;
            let y = row_y + 14.0 * k as f64;
            bars.push(Bar {
                x: left,
                y,
                width: w,
                height: 12.0,
                fill: COLOURS[k % COLOURS.len()],
                tooltip: format!("{category} {}: {}", s.name, number(value)),
            });
            labels.push(Label {
                x: left + w + 4.0,
                y: y + 10.0,
                text: number(value),
                anchor: "start",
            });
        }
        labels.push(Label {
            x: left - 8.0,
            y: row_y + row_h / 2.0,
            text: category.clone(),
            anchor: "end",
        });
    }
    let bottom = top + plot_h;
    let gridlines = (0..=((top_value / step).round() as usize))
        .map(|n| {
            let value = step * n as f64;
            let x = left + plot_w * value / top_value;
            Gridline {
                x1: x,
                y1: top,
                x2: x,
                y2: bottom,
                label_x: x,
                label_y: bottom + 16.0,
                text: number(value),
                anchor: "middle",
            }
        })
        .collect();
    Chart {
        title: title.to_string(),
        width,
        height,
        bars,
        labels,
        gridlines,
        legend: legend(series, left, 14.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_number_at_or_above_the_largest_value() {
        assert_eq!(scale(0.0), (1.0, 1.0));
        assert_eq!(scale(7.0), (8.0, 2.0));
        assert_eq!(scale(791.0), (800.0, 200.0));
        assert_eq!(scale(100.0), (100.0, 25.0));
    }

    #[test]
    fn a_column_is_as_tall_as_its_share_of_the_axis() {
        let chart = columns(
            "t",
            &["4月".into(), "5月".into()],
            &[Series {
                name: "受付".into(),
                values: vec![4.0, 8.0],
            }],
        );
        let plot_h = 300.0 - 30.0 - 40.0;
        assert_eq!(chart.bars.len(), 2);
        assert!((chart.bars[1].height - plot_h).abs() < 1e-9);
        assert!((chart.bars[0].height - plot_h / 2.0).abs() < 1e-9);
        assert_eq!(chart.bars[0].tooltip, "4月 受付: 4");
    }
}
