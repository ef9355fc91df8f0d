//! The dashboard's aggregates, computed in one pass over the rows `db::dashboard`
//! loads. Rules only, no I/O: what counts as filed or resolved in a fiscal year,
//! the backlog's age buckets, the stage times and their percentiles.
//!
//! - *Filed* in a fiscal year: filed between April 1 and March 31 in the display zone
//!   (the consultation's `fiscal_year`). Their current state, the time from filing
//!   to the hearing and from the hearing to the first assignment come from them.
//! - *Resolved* in a fiscal year: resolved within it, whenever filed. Time from
//!   assignment to resolution, SLA compliance (resolved by the resolution due time),
//!   satisfaction and the reopen rate come from them.
//! - *Backlog*: what is open now (received, hearing, assigned, waiting), aged from
//!   filing; it does not depend on the fiscal year.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::fiscal::{era_label, fiscal_year_label};
use crate::domain::{Category, State};

/// A consultation filed in the fiscal year.
#[derive(Debug, Clone)]
pub struct FiledRow {
    pub created_at: NaiveDateTime,
    pub department_id: i64,
    pub category: String,
    pub state: String,
    pub hearing_at: Option<NaiveDateTime>,
    pub assigned_at: Option<NaiveDateTime>,
}

/// A consultation resolved in the fiscal year.
#[derive(Debug, Clone)]
pub struct ResolvedRow {
    pub resolved_at: NaiveDateTime,
    pub department_id: i64,
    pub category: String,
    pub assignee_id: Option<i64>,
    pub assigned_at: Option<NaiveDateTime>,
    pub resolution_due_at: Option<NaiveDateTime>,
    pub rating: Option<i16>,
    pub reopen_count: i32,
}

/// A consultation open now.
#[derive(Debug, Clone)]
pub struct OpenRow {
    pub created_at: NaiveDateTime,
    pub department_id: i64,
    pub state: String,
    pub assignee_id: Option<i64>,
}

/// A department as the roll-up needs it.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
}

/// Everything the dashboard is computed from.
pub struct Input {
    pub fiscal_year: i32,
    pub now: NaiveDateTime,
    pub zone: Tz,
    pub filed: Vec<FiledRow>,
    pub resolved: Vec<ResolvedRow>,
    pub open: Vec<OpenRow>,
    pub previous_filed: i64,
    pub previous_resolved: i64,
    pub units: Vec<Unit>,
    /// Names of the SEs that appear as assignees.
    pub people: HashMap<i64, String>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Dashboard {
    pub fiscal_year: i32,
    /// `FY2025`
    pub label: String,
    /// `令和7年度`
    pub era_label: String,
    pub filed: i64,
    pub resolved: i64,
    /// Open now.
    pub open: i64,
    pub previous_year: YearTotals,
    pub months: Vec<MonthCount>,
    pub backlog_by_state: Vec<Count>,
    pub backlog_by_age: Vec<Count>,
    pub stages: Vec<StageTime>,
    pub sla: Ratio,
    pub satisfaction: Satisfaction,
    pub reopen: Ratio,
    pub by_state: Vec<Count>,
    pub by_category: Vec<FiledResolved>,
    pub by_division: Vec<DivisionRow>,
    pub by_se: Vec<SeRow>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct YearTotals {
    pub fiscal_year: i32,
    pub label: String,
    pub era_label: String,
    pub filed: i64,
    pub resolved: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct MonthCount {
    /// `2025-04`
    pub month: String,
    pub filed: i64,
    pub resolved: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Count {
    /// A state, or an age bucket `0-7`, `8-30`, `31-90`, `91-`.
    pub key: String,
    pub count: i64,
}

/// Time between two steps, in hours.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct StageTime {
    /// `filed_to_hearing`, `hearing_to_assignment`, `assignment_to_resolution`
    pub stage: String,
    pub count: i64,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Ratio {
    pub count: i64,
    pub of: i64,
    /// `count / of`, absent when `of` is 0.
    pub rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct Satisfaction {
    pub count: i64,
    pub mean: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct FiledResolved {
    pub key: String,
    pub filed: i64,
    pub resolved: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct DivisionRow {
    pub department_id: i64,
    pub code: String,
    pub name: String,
    pub filed: i64,
    pub resolved: i64,
    pub open: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct SeRow {
    pub user_id: i64,
    pub name: String,
    pub open: i64,
    pub resolved: i64,
}

/// The states that make up the backlog.
pub const OPEN_STATES: [State; 4] = [
    State::Received,
    State::Hearing,
    State::Assigned,
    State::Waiting,
];

/// The backlog's age buckets in days since filing: 0–7, 8–30, 31–90, over 90.
pub const AGE_BUCKETS: [&str; 4] = ["0-7", "8-30", "31-90", "91-"];

pub fn age_bucket(days: i64) -> usize {
    match days {
        ..=7 => 0,
        8..=30 => 1,
        31..=90 => 2,
        _ => 3,
    }
}

/// The nearest-rank percentile (`p` in 0..=1) of unsorted values: the smallest value
/// with at least `p` of all values at or below it. The median of an even count is
/// the lower middle value.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    let (_, value, _) = values.select_nth_unstable_by(rank - 1, |a, b| a.total_cmp(b));
    Some(*value)
}

fn hours(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    // A hearing set after an assignment (or clocks out of order) counts as no wait.
    ((to - from).num_seconds().max(0)) as f64 / 3600.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn stage(name: &str, mut values: Vec<f64>) -> StageTime {
    StageTime {
        stage: name.to_string(),
        count: values.len() as i64,
        median_hours: percentile(&mut values, 0.5).map(round1),
        p90_hours: percentile(&mut values, 0.9).map(round1),
    }
}

fn ratio(count: i64, of: i64) -> Ratio {
    Ratio {
        count,
        of,
        rate: (of > 0).then(|| count as f64 / of as f64),
    }
}

/// The division a department rolls up to: itself, or the nearest unit above a
/// section (as `db::departments::division_of`, for all departments at once).
fn divisions(units: &[Unit]) -> HashMap<i64, i64> {
    let by_id: HashMap<i64, &Unit> = units.iter().map(|u| (u.id, u)).collect();
    units
        .iter()
        .map(|unit| {
            let mut current = unit;
            // The tree is shallow; the bound guards against a cycle made by hand.
            for _ in 0..8 {
                match current.parent_id.and_then(|p| by_id.get(&p)) {
                    Some(parent) if current.kind == "section" => current = parent,
                    _ => break,
                }
            }
            (unit.id, current.id)
        })
        .collect()
}

/// Month index 0..12 within the fiscal year (April = 0) of a stored UTC time.
fn fiscal_month(zone: &Tz, at: NaiveDateTime) -> usize {
    let month = zone.from_utc_datetime(&at).month() as usize;
    (month + 8) % 12
}

pub fn compute(input: Input) -> Dashboard {
    let zone = input.zone;
    let division_of = divisions(&input.units);
    let division = |id: i64| division_of.get(&id).copied().unwrap_or(id);
    let mut months = [(0i64, 0i64); 12];
    let mut states: BTreeMap<usize, i64> = BTreeMap::new();
    let mut categories: HashMap<String, (i64, i64)> = HashMap::new();
    let mut per_division: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    let mut per_se: HashMap<i64, (i64, i64)> = HashMap::new();
    let state_index = |s: &str| State::ALL.iter().position(|x| x.as_str() == s);

    let mut to_hearing = Vec::new();
    let mut hearing_to_assignment = Vec::new();
    for row in &input.filed {
        months[fiscal_month(&zone, row.created_at)].0 += 1;
        if let Some(i) = state_index(&row.state) {
            *states.entry(i).or_default() += 1;
        }
        categories.entry(row.category.clone()).or_default().0 += 1;
        per_division
            .entry(division(row.department_id))
            .or_default()
            .0 += 1;
        if let Some(hearing) = row.hearing_at.filter(|h| *h <= input.now) {
            to_hearing.push(hours(row.created_at, hearing));
            if let Some(assigned) = row.assigned_at {
                hearing_to_assignment.push(hours(hearing, assigned));
            }
        }
    }

    let mut to_resolution = Vec::new();
    let (mut with_due, mut within_due, mut reopened) = (0, 0, 0);
    let (mut ratings, mut rating_sum) = (0i64, 0i64);
    for row in &input.resolved {
        months[fiscal_month(&zone, row.resolved_at)].1 += 1;
        categories.entry(row.category.clone()).or_default().1 += 1;
        per_division
            .entry(division(row.department_id))
            .or_default()
            .1 += 1;
        if let Some(se) = row.assignee_id {
            per_se.entry(se).or_default().1 += 1;
        }
        if let Some(assigned) = row.assigned_at {
            to_resolution.push(hours(assigned, row.resolved_at));
        }
        if let Some(due) = row.resolution_due_at {
            with_due += 1;
            within_due += i64::from(row.resolved_at <= due);
        }
        if let Some(rating) = row.rating {
            ratings += 1;
            rating_sum += i64::from(rating);
        }
        reopened += i64::from(row.reopen_count > 0);
    }

    let mut backlog_states = [0i64; 4];
    let mut ages = [0i64; 4];
    for row in &input.open {
        if let Some(i) = OPEN_STATES.iter().position(|s| s.as_str() == row.state) {
            backlog_states[i] += 1;
        }
        ages[age_bucket((input.now - row.created_at).num_days())] += 1;
        per_division
            .entry(division(row.department_id))
            .or_default()
            .2 += 1;
        if let Some(se) = row.assignee_id {
            per_se.entry(se).or_default().0 += 1;
        }
    }

    let first_month = input.fiscal_year;
    let units: HashMap<i64, &Unit> = input.units.iter().map(|u| (u.id, u)).collect();
    let mut by_division: Vec<DivisionRow> = per_division
        .into_iter()
        .map(|(id, (filed, resolved, open))| DivisionRow {
            department_id: id,
            code: units.get(&id).map(|u| u.code.clone()).unwrap_or_default(),
            name: units.get(&id).map(|u| u.name.clone()).unwrap_or_default(),
            filed,
            resolved,
            open,
        })
        .collect();
    by_division.sort_by(|a, b| b.filed.cmp(&a.filed).then(a.code.cmp(&b.code)));
    let mut by_se: Vec<SeRow> = per_se
        .into_iter()
        .map(|(id, (open, resolved))| SeRow {
            user_id: id,
            name: input.people.get(&id).cloned().unwrap_or_default(),
            open,
            resolved,
        })
        .collect();
    by_se.sort_by(|a, b| b.open.cmp(&a.open).then(a.user_id.cmp(&b.user_id)));

    Dashboard {
        fiscal_year: input.fiscal_year,
        label: fiscal_year_label(input.fiscal_year),
        era_label: era_label(input.fiscal_year),
        filed: input.filed.len() as i64,
        resolved: input.resolved.len() as i64,
        open: input.open.len() as i64,
        previous_year: YearTotals {
            fiscal_year: input.fiscal_year - 1,
            label: fiscal_year_label(input.fiscal_year - 1),
            era_label: era_label(input.fiscal_year - 1),
            filed: input.previous_filed,
            resolved: input.previous_resolved,
        },
        months: months
            .iter()
            .enumerate()
            .map(|(i, (filed, resolved))| {
                let month = (i + 3) % 12 + 1;
                let year = first_month + i32::from(month < 4);
                MonthCount {
                    month: format!("{year}-{month:02}"),
                    filed: *filed,
                    resolved: *resolved,
                }
            })
            .collect(),
        backlog_by_state: OPEN_STATES
            .iter()
            .zip(backlog_states)
            .map(|(s, count)| Count {
                key: s.as_str().to_string(),
                count,
            })
            .collect(),
        backlog_by_age: AGE_BUCKETS
            .iter()
            .zip(ages)
            .map(|(bucket, count)| Count {
                key: bucket.to_string(),
                count,
            })
            .collect(),
        stages: vec![
            stage("filed_to_hearing", to_hearing),
            stage("hearing_to_assignment", hearing_to_assignment),
            stage("assignment_to_resolution", to_resolution),
        ],
        sla: ratio(within_due, with_due),
        satisfaction: Satisfaction {
            count: ratings,
            mean: (ratings > 0)
                .then(|| (rating_sum as f64 / ratings as f64 * 100.0).round() / 100.0),
        },
        reopen: ratio(reopened, input.resolved.len() as i64),
        by_state: states
            .into_iter()
            .map(|(i, count)| Count {
                key: State::ALL[i].as_str().to_string(),
                count,
            })
            .collect(),
        by_category: Category::ALL
            .iter()
            .map(|c| {
                let (filed, resolved) = categories.get(c.as_str()).copied().unwrap_or_default();
                FiledResolved {
                    key: c.as_str().to_string(),
                    filed,
                    resolved,
                }
            })
            .collect(),
        by_division,
        by_se,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut v, 0.5), Some(3.0));
        assert_eq!(percentile(&mut v, 0.9), Some(5.0));
        let mut even = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&mut even, 0.5), Some(2.0));
        let mut ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&mut ten, 0.9), Some(9.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn age_buckets_have_inclusive_upper_bounds() {
        assert_eq!(age_bucket(0), 0);
        assert_eq!(age_bucket(7), 0);
        assert_eq!(age_bucket(8), 1);
        assert_eq!(age_bucket(30), 1);
        assert_eq!(age_bucket(31), 2);
        assert_eq!(age_bucket(90), 2);
        assert_eq!(age_bucket(91), 3);
    }

    #[test]
    fn months_run_from_april_to_march_in_the_display_zone() {
        let tokyo: Tz = "Asia/Tokyo".parse().expect("zone");
        let utc = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        // 2026-03-31 15:00 UTC is April 1 00:00 in Tokyo: the next fiscal year's first month.
        assert_eq!(fiscal_month(&tokyo, utc("2026-03-31 15:00")), 0);
        assert_eq!(fiscal_month(&tokyo, utc("2026-03-31 14:59")), 11);
        assert_eq!(fiscal_month(&tokyo, utc("2025-12-31 12:00")), 8);
    }
}
