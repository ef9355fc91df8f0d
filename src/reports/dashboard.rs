//! The dashboard's aggregates, computed from its rollups (`domain::rollup`) and
//! the open consultations. Rules only, no I/O: what counts as filed or resolved in
//! a fiscal year, the backlog's age buckets, the stage times and their percentiles.
//!
//! - *Filed* in a fiscal year: filed between April 1 and March 31 in the display zone
//!   (the consultation's `fiscal_year`). Their current state, the time from filing
//!   to the hearing and from the hearing to the first assignment come from them.
//! - *Resolved* in a fiscal year: resolved within it, whenever filed. Time from
//!   assignment to resolution, SLA compliance (resolved by the resolution due time),
//!   satisfaction and the reopen rate come from them.
//! - *Backlog*: what is open now (received, hearing, assigned, waiting), aged from
//!   filing; it does not depend on the fiscal year.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::fiscal::{era_label, fiscal_year_label};
use crate::domain::rollup::{self, OPEN_STATES};
use crate::domain::{Category, State};

/// One rollup row: counts of a measure and key in a fiscal year (summed over the
/// divisions covered, or per division for the table of divisions).
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub fiscal_year: i32,
    pub division_id: i64,
    pub measure: String,
    pub key: String,
    pub n: i64,
    pub total: i64,
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
    /// The rollups of the covered divisions for the year and the one before.
    pub stats: Vec<Stat>,
    /// Filed and resolved of the year, and open now, per division
    /// (`rollup::FILED`, `RESOLVED`, `OPEN_STATE`).
    pub per_division: Vec<Stat>,
    pub units: Vec<Unit>,
    /// Names of the SEs that appear as assignees.
    pub people: HashMap<i64, String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
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

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct YearTotals {
    pub fiscal_year: i32,
    pub label: String,
    pub era_label: String,
    pub filed: i64,
    pub resolved: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct MonthCount {
    /// `2025-04`
    pub month: String,
    pub filed: i64,
    pub resolved: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Count {
    /// A state, or an age bucket `0-7`, `8-30`, `31-90`, `91-`.
    pub key: String,
    pub count: i64,
}

/// Time between two steps, in hours.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct StageTime {
    /// `filed_to_hearing`, `hearing_to_assignment`, `assignment_to_resolution`
    pub stage: String,
    pub count: i64,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Ratio {
    pub count: i64,
    pub of: i64,
    /// `count / of`, absent when `of` is 0.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Satisfaction {
    pub count: i64,
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FiledResolved {
    pub key: String,
    pub filed: i64,
    pub resolved: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct DivisionRow {
    pub department_id: i64,
    pub code: String,
    pub name: String,
    pub filed: i64,
    pub resolved: i64,
    pub open: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SeRow {
    pub user_id: i64,
    pub name: String,
    pub open: i64,
    pub resolved: i64,
}

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

/// The nearest-rank percentile of values given as (value, how many), as
/// [`percentile`] of the values written out.
pub fn histogram_percentile(counts: &[(f64, i64)], p: f64) -> Option<f64> {
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
    let mut sorted = counts.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut seen = 0;
    for (value, n) in sorted {
        seen += n;
        if seen >= rank {
            return Some(value);
        }
    }
    None
}

fn stage(name: &str, counts: Vec<(f64, i64)>) -> StageTime {
    StageTime {
        stage: name.to_string(),
        count: counts.iter().map(|(_, n)| n).sum(),
        median_hours: histogram_percentile(&counts, 0.5),
        p90_hours: histogram_percentile(&counts, 0.9),
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
pub fn divisions(units: &[Unit]) -> HashMap<i64, i64> {
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

pub fn compute(input: Input) -> Dashboard {
    let year = input.fiscal_year;
    // Sums over the covered divisions, per (year, measure, key).
    let mut sums: HashMap<(i32, &str, &str), (i64, i64)> = HashMap::new();
    for stat in &input.stats {
        let entry = sums
            .entry((stat.fiscal_year, stat.measure.as_str(), stat.key.as_str()))
            .or_default();
        entry.0 += stat.n;
        entry.1 += stat.total;
    }
    let of = |y: i32, measure: &str, key: &str| {
        sums.get(&(y, measure, key)).copied().unwrap_or_default()
    };
    let keyed = |measure: &str| -> Vec<(&str, i64)> {
        sums.iter()
            .filter(|((y, m, _), _)| *y == year && *m == measure)
            .map(|((_, _, key), (n, _))| (*key, *n))
            .collect()
    };
    let histogram = |measure: &str| -> Vec<(f64, i64)> {
        keyed(measure)
            .into_iter()
            .filter_map(|(key, n)| Some((key.parse::<f64>().ok()?, n)))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    let month = |measure: &str, i: usize| of(year, measure, &i.to_string()).0;
    let months: Vec<(i64, i64)> = (0..12)
        .map(|i| {
            (
                month(rollup::FILED_MONTH, i),
                month(rollup::RESOLVED_MONTH, i),
            )
        })
        .collect();

    let now_keyed = |measure: &str| -> Vec<(&str, i64)> {
        sums.iter()
            .filter(|((y, m, _), _)| *y == rollup::NOW && *m == measure)
            .map(|((_, _, key), (n, _))| (*key, *n))
            .collect()
    };
    let mut per_division: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for stat in &input.per_division {
        let entry = per_division.entry(stat.division_id).or_default();
        match (stat.fiscal_year, stat.measure.as_str()) {
            (y, rollup::FILED) if y == year => entry.0 += stat.n,
            (y, rollup::RESOLVED) if y == year => entry.1 += stat.n,
            (rollup::NOW, rollup::OPEN_STATE) => entry.2 += stat.n,
            _ => {}
        }
    }
    per_division.retain(|_, counts| *counts != (0, 0, 0));
    let mut per_se: HashMap<i64, (i64, i64)> = HashMap::new();
    for (key, n) in keyed(rollup::RESOLVED_SE) {
        if let Ok(se) = key.parse::<i64>() {
            per_se.entry(se).or_default().1 += n;
        }
    }
    for (key, n) in now_keyed(rollup::OPEN_SE) {
        if let Ok(se) = key.parse::<i64>() {
            per_se.entry(se).or_default().0 += n;
        }
    }
    per_se.retain(|_, counts| *counts != (0, 0));
    let backlog_states = OPEN_STATES.map(|s| of(rollup::NOW, rollup::OPEN_STATE, s.as_str()).0);
    let mut ages = [0i64; 4];
    let today = input.now.date();
    for (day, n) in now_keyed(rollup::OPEN_DAY) {
        if let Ok(filed) = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            ages[age_bucket((today - filed).num_days())] += n;
        }
    }
    let resolved = of(year, rollup::RESOLVED, "").0;
    let ratings = of(year, rollup::RATING, "");

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
        fiscal_year: year,
        label: fiscal_year_label(year),
        era_label: era_label(year),
        filed: of(year, rollup::FILED, "").0,
        resolved,
        open: backlog_states.iter().sum(),
        previous_year: YearTotals {
            fiscal_year: year - 1,
            label: fiscal_year_label(year - 1),
            era_label: era_label(year - 1),
            filed: of(year - 1, rollup::FILED, "").0,
            resolved: of(year - 1, rollup::RESOLVED, "").0,
        },
        months: months
            .iter()
            .enumerate()
            .map(|(i, (filed, resolved))| {
                let month = (i + 3) % 12 + 1;
                let year = year + i32::from(month < 4);
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
            stage(rollup::TO_HEARING, histogram(rollup::TO_HEARING)),
            stage(
                rollup::HEARING_TO_ASSIGNMENT,
                histogram(rollup::HEARING_TO_ASSIGNMENT),
            ),
            stage(rollup::TO_RESOLUTION, histogram(rollup::TO_RESOLUTION)),
        ],
        sla: ratio(
            of(year, rollup::SLA, "within").0,
            of(year, rollup::SLA, "due").0,
        ),
        satisfaction: Satisfaction {
            count: ratings.0,
            mean: (ratings.0 > 0)
                .then(|| (ratings.1 as f64 / ratings.0 as f64 * 100.0).round() / 100.0),
        },
        reopen: ratio(of(year, rollup::REOPENED, "").0, resolved),
        by_state: State::ALL
            .iter()
            .map(|s| Count {
                key: s.as_str().to_string(),
                count: of(year, rollup::FILED_STATE, s.as_str()).0,
            })
            .filter(|c| c.count > 0)
            .collect(),
        by_category: Category::ALL
            .iter()
            .map(|c| FiledResolved {
                key: c.as_str().to_string(),
                filed: of(year, rollup::FILED_CATEGORY, c.as_str()).0,
                resolved: of(year, rollup::RESOLVED_CATEGORY, c.as_str()).0,
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
    fn histogram_percentiles_are_the_nearest_rank_of_the_values_written_out() {
        let counts = [(48.0, 1), (22.0, 1), (216.0, 1)];
        assert_eq!(histogram_percentile(&counts, 0.5), Some(48.0));
        assert_eq!(histogram_percentile(&counts, 0.9), Some(216.0));
        let mut written_out = vec![1.0, 2.0, 2.0, 2.0, 9.0];
        let counts = [(2.0, 3), (9.0, 1), (1.0, 1)];
        for p in [0.1, 0.5, 0.8, 0.9, 1.0] {
            assert_eq!(
                histogram_percentile(&counts, p),
                percentile(&mut written_out, p),
                "{p}"
            );
        }
        assert_eq!(histogram_percentile(&[], 0.5), None);
    }
}
