//! The dashboard's tables as localised headers and rows of cells, for the CSV and
//! XLSX exports (the same tables the page shows under its charts).

use crate::i18n::{t, Locale};
use crate::reports::dashboard::Dashboard;
use crate::reports::export::{Cell, Row};

/// The tables by name, in the page's order.
pub const TABLES: &[&str] = &[
    "months",
    "backlog",
    "ages",
    "stages",
    "divisions",
    "categories",
    "states",
    "ses",
];

fn days(hours: Option<f64>) -> Cell {
    hours
        .map(|h| Cell::Number((h / 24.0 * 10.0).round() / 10.0))
        .unwrap_or(Cell::Empty)
}

/// One table: its headers and rows (`None`: no such table).
pub fn table(locale: Locale, d: &Dashboard, name: &str) -> Option<(Vec<String>, Vec<Row>)> {
    let l = |key: &str| t(locale, key, &[]);
    let h = |keys: &[&str]| keys.iter().map(|k| l(&format!("dashboard.{k}"))).collect();
    let text = |s: String| Cell::Text(s);
    Some(match name {
        "months" => (
            h(&["month", "filed", "resolved"]),
            d.months
                .iter()
                .map(|m| vec![text(m.month.clone()), m.filed.into(), m.resolved.into()])
                .collect(),
        ),
        "backlog" => (
            h(&["state", "count"]),
            d.backlog_by_state
                .iter()
                .map(|c| vec![text(l(&format!("state.{}", c.key))), c.count.into()])
                .collect(),
        ),
        "ages" => (
            h(&["age", "count"]),
            d.backlog_by_age
                .iter()
                .map(|c| vec![text(l(&format!("dashboard.age.{}", c.key))), c.count.into()])
                .collect(),
        ),
        "stages" => (
            h(&["stage", "count", "median_days", "p90_days"]),
            d.stages
                .iter()
                .map(|s| {
                    vec![
                        text(l(&format!("dashboard.stage.{}", s.stage))),
                        s.count.into(),
                        days(s.median_hours),
                        days(s.p90_hours),
                    ]
                })
                .collect(),
        ),
        "divisions" => (
            h(&["division", "filed", "resolved", "open"]),
            d.by_division
                .iter()
                .map(|r| {
                    vec![
                        text(r.name.clone()),
                        r.filed.into(),
                        r.resolved.into(),
                        r.open.into(),
                    ]
                })
                .collect(),
        ),
        "categories" => (
            h(&["category", "filed", "resolved"]),
            d.by_category
                .iter()
                .map(|c| {
                    vec![
                        text(l(&format!("category.{}", c.key))),
                        c.filed.into(),
                        c.resolved.into(),
                    ]
                })
                .collect(),
        ),
        "states" => (
            h(&["state", "count"]),
            d.by_state
                .iter()
                .map(|c| vec![text(l(&format!("state.{}", c.key))), c.count.into()])
                .collect(),
        ),
        "ses" => (
            h(&["se", "workload", "resolved"]),
            d.by_se
                .iter()
                .map(|r| vec![text(r.name.clone()), r.open.into(), r.resolved.into()])
                .collect(),
        ),
        _ => return None,
    })
}
