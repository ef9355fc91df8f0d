//! The rules of the effects the city publishes (issue 20), pure: in which months
//! of a fiscal year a system was in production (from its phase history), the
//! effects that are not hours, the targets an admin sets and the pace a target
//! needs. `reports::annual` turns them into a year's figures.
//!
//! Pro rata by month: a system counts in the month it entered production and in
//! every month after it, up to but not including the month it was retired. A year
//! still in progress counts a system still in production for all its remaining
//! months: the figure is what the year saves if nothing changes.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ledger::Phase;
use super::validation::FieldErrors;

/// A change of phase on a local calendar day (from the entry's history).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseChange {
    pub on: NaiveDate,
    pub to: Phase,
}

/// Months since year 0, so that months compare and subtract.
fn month_index(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

/// The periods a system was in production, as month indices `[from, until)`;
/// `until` is `None` while it still is. `changes` are oldest first.
pub fn production_months(changes: &[PhaseChange]) -> Vec<(i64, Option<i64>)> {
    let mut periods = vec![];
    let mut open: Option<i64> = None;
    for change in changes {
        match (open, change.to == Phase::Production) {
            (None, true) => open = Some(month_index(change.on)),
            (Some(from), false) => {
                periods.push((from, Some(month_index(change.on))));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        periods.push((from, None));
    }
    periods
}

/// The months of fiscal year `year` (April–March) the periods cover, 0 to 12.
pub fn months_in_year(periods: &[(i64, Option<i64>)], year: i32) -> i64 {
    let start = i64::from(year) * 12 + 3;
    let end = start + 12;
    periods
        .iter()
        .map(|(from, until)| {
            let from = (*from).max(start);
            let until = until.unwrap_or(end).min(end);
            (until - from).max(0)
        })
        .sum()
}

/// Whether the periods cover the last month (March) of fiscal year `year`: the
/// system was in operation at the year's end.
pub fn in_operation_at_end(periods: &[(i64, Option<i64>)], year: i32) -> bool {
    let march = i64::from(year) * 12 + 14;
    periods
        .iter()
        .any(|(from, until)| *from <= march && until.is_none_or(|u| u > march))
}

/// The fiscal year a system first entered production in (its one-off development
/// cost avoided counts there).
pub fn first_production_year(periods: &[(i64, Option<i64>)]) -> Option<i32> {
    periods.first().map(|(from, _)| {
        let (year, month0) = (from.div_euclid(12), from.rem_euclid(12));
        (if month0 >= 3 { year } else { year - 1 }) as i32
    })
}

/// An effect that is not hours: support staff for a call centre cut from 100 to
/// 15 a day, paid leave taken 5.8 → 7.6 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OtherEffect {
    /// What changed (`コールセンター応援職員`).
    pub what: String,
    pub before: f64,
    pub after: f64,
    /// `人/日`, `日`, `時間/月`.
    pub unit: String,
    pub note: Option<String>,
}

/// An effect as it arrives; every field is checked by [`parse_other_effects`].
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct OtherEffectInput {
    #[schema(max_length = 100)]
    pub what: Option<String>,
    pub before: Option<f64>,
    pub after: Option<f64>,
    #[schema(max_length = 20)]
    pub unit: Option<String>,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// At most this many effects per system.
pub const OTHER_EFFECTS_MAX: usize = 20;
const WHAT_MAX: usize = 100;
const UNIT_MAX: usize = 20;
const NOTE_MAX: usize = 500;
/// Before and after lie within ±this (a count, days, yen).
const FIGURE_MAX: f64 = 1e12;

/// The effects, each one whole; problems are reported under `other_effects`.
pub fn parse_other_effects(
    errors: &mut FieldErrors,
    inputs: &[OtherEffectInput],
) -> Vec<OtherEffect> {
    const FIELD: &str = "other_effects";
    if inputs.len() > OTHER_EFFECTS_MAX {
        errors.add(FIELD, "validation.too_many");
        return vec![];
    }
    let mut out = vec![];
    for input in inputs {
        let what = errors.required_text(FIELD, input.what.as_deref(), WHAT_MAX);
        let unit = errors.required_text(FIELD, input.unit.as_deref(), UNIT_MAX);
        let note = errors.optional_text(FIELD, input.note.as_deref(), NOTE_MAX);
        let figure = |errors: &mut FieldErrors, v: Option<f64>| match v {
            Some(n) if n.is_finite() && n.abs() <= FIGURE_MAX => Some(n),
            Some(_) => {
                errors.add(FIELD, "validation.number");
                None
            }
            None => {
                errors.add(FIELD, "validation.required");
                None
            }
        };
        let before = figure(errors, input.before);
        let after = figure(errors, input.after);
        if let (Some(what), Some(unit), Some(before), Some(after)) = (what, unit, before, after) {
            out.push(OtherEffect {
                what,
                before,
                after,
                unit,
                note,
            });
        }
    }
    out
}

/// What an admin sets on the settings page.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Targets {
    /// The first fiscal year of the cumulative 効果額.
    pub start_fiscal_year: i32,
    /// Hours saved a year to reach by `target_fiscal_year`.
    pub target_hours: i64,
    /// Cumulative 効果額 (yen) to reach by `target_fiscal_year`; `None`: no money target.
    pub target_amount: Option<i64>,
    pub target_fiscal_year: i32,
}

/// The settings form or body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TargetsInput {
    #[schema(minimum = 2000, maximum = 2100)]
    pub start_fiscal_year: Option<i64>,
    #[schema(minimum = 0, maximum = 100000000)]
    pub target_hours: Option<i64>,
    /// Yen; `null` or absent: no money target.
    #[schema(minimum = 0, maximum = 10000000000000_i64)]
    pub target_amount: Option<i64>,
    #[schema(minimum = 2000, maximum = 2100)]
    pub target_fiscal_year: Option<i64>,
}

/// Fiscal years the report knows.
pub const YEAR_RANGE: std::ops::RangeInclusive<i64> = 2000..=2100;

impl TargetsInput {
    pub fn parse(&self) -> Result<Targets, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut number =
            |field: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>| match value {
                None => {
                    errors.add(field, "validation.required");
                    None
                }
                Some(n) if !range.contains(&n) => {
                    errors.add(field, "validation.amount");
                    None
                }
                Some(n) => Some(n),
            };
        let start = number("start_fiscal_year", self.start_fiscal_year, YEAR_RANGE);
        let hours = number("target_hours", self.target_hours, 0..=100_000_000);
        let year = number("target_fiscal_year", self.target_fiscal_year, YEAR_RANGE);
        let amount = match self.target_amount {
            Some(n) => number("target_amount", Some(n), 0..=10_000_000_000_000),
            None => None,
        };
        if let (Some(start), Some(year)) = (start, year) {
            if year < start {
                errors.add("target_fiscal_year", "validation.target_before_start");
            }
        }
        errors.into_result()?;
        Ok(Targets {
            start_fiscal_year: start.unwrap_or_default() as i32,
            target_hours: hours.unwrap_or_default(),
            target_amount: amount,
            target_fiscal_year: year.unwrap_or_default() as i32,
        })
    }
}

/// How far a figure is from its target and what it needs each remaining year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub target: i64,
    pub achieved: i64,
    /// `achieved` of `target`, percent to one decimal.
    pub percent: f64,
    /// What is still missing (0 once reached).
    pub remaining: i64,
    /// Fiscal years left after the one shown, up to the target year.
    pub years_left: i64,
    /// What each year left must add to reach the target in time (`remaining`
    /// spread over `years_left`, rounded up); `None` when no year is left.
    pub needed_per_year: Option<i64>,
}

pub fn progress(target: i64, achieved: i64, year: i32, target_year: i32) -> Progress {
    let remaining = (target - achieved).max(0);
    let years_left = i64::from(target_year - year).max(0);
    Progress {
        target,
        achieved,
        percent: percent(achieved, target),
        remaining,
        years_left,
        needed_per_year: (years_left > 0).then(|| (remaining + years_left - 1) / years_left),
    }
}

/// `part` of `whole` in percent to one decimal (0 when `whole` is 0).
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(y: i32, m: u32, d: u32, to: Phase) -> PhaseChange {
        PhaseChange {
            on: NaiveDate::from_ymd_opt(y, m, d).expect("date"),
            to,
        }
    }

    #[test]
    fn a_system_counts_from_the_month_it_entered_production_to_the_month_before_retirement() {
        let changes = [
            on(2024, 4, 1, Phase::Trial),
            on(2024, 10, 15, Phase::Production),
            on(2026, 7, 10, Phase::Retired),
        ];
        let periods = production_months(&changes);
        assert_eq!(months_in_year(&periods, 2023), 0);
        assert_eq!(months_in_year(&periods, 2024), 6, "October to March");
        assert_eq!(months_in_year(&periods, 2025), 12);
        assert_eq!(months_in_year(&periods, 2026), 3, "April to June");
        assert!(in_operation_at_end(&periods, 2024));
        assert!(!in_operation_at_end(&periods, 2026));
        assert_eq!(first_production_year(&periods), Some(2024));
        let open = production_months(&[on(2026, 2, 1, Phase::Production)]);
        assert_eq!(months_in_year(&open, 2025), 2, "February and March");
        assert_eq!(months_in_year(&open, 2026), 12);
        assert_eq!(first_production_year(&open), Some(2025));
    }

    #[test]
    fn pace_spreads_what_is_missing_over_the_years_left() {
        let p = progress(100_000, 40_355, 2023, 2025);
        assert_eq!(
            (p.remaining, p.years_left, p.needed_per_year),
            (59_645, 2, Some(29_823))
        );
        assert_eq!(p.percent, 40.4);
        assert_eq!(progress(100, 120, 2025, 2025).needed_per_year, None);
        assert_eq!(progress(100, 120, 2024, 2025).remaining, 0);
    }

    #[test]
    fn other_effects_need_what_before_after_and_unit() {
        let mut errors = FieldErrors::new();
        let parsed = parse_other_effects(
            &mut errors,
            &[OtherEffectInput {
                what: Some("コールセンター応援職員".into()),
                before: Some(100.0),
                after: Some(15.0),
                unit: Some("人/日".into()),
                note: None,
            }],
        );
        assert!(errors.into_result().is_ok());
        assert_eq!(parsed[0].after, 15.0);
        let mut errors = FieldErrors::new();
        parse_other_effects(
            &mut errors,
            &[OtherEffectInput {
                what: Some("残業".into()),
                before: Some(f64::NAN),
                ..Default::default()
            }],
        );
        assert!(errors.contains("other_effects"));
    }
}
