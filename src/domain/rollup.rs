//! What one consultation adds to the dashboard's rollups: counts per fiscal year
//! and division (and for the whole organisation), kept up to date by adding a
//! consultation's facts after each change and taking away its facts before it.
//! The dashboard then reads a few hundred summed rows instead of every
//! consultation of a year.
//!
//! - *Filed* facts belong to the fiscal year of filing: the month, category and
//!   current state, and the stage times up to the first assignment.
//! - *Resolved* facts belong to the fiscal year of the (latest) resolution: the
//!   month, category, SE, time from assignment to resolution, whether it was on
//!   time, the rating and whether it was ever reopened.
//!
//! - *Open now* facts (under [`NOW`], not a fiscal year) belong to what is open:
//!   its state, the day it was filed (for the backlog's age) and its SE.
//!
//! Stage times are kept as counts per bucket, to the hour up to three days and to
//! the day beyond, so their medians are exact to that resolution.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::fiscal::fiscal_year;
use super::workflow::State;
use super::Category;

/// The rollup row a fact adds to: a fiscal year, a division (0: the whole
/// organisation), a measure and its key.
pub type Slot = (i32, i64, &'static str, String);

/// Counts and sums added to slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts(pub BTreeMap<Slot, (i64, i64)>);

/// The division every rollup row of the whole organisation is kept under.
pub const WHOLE: i64 = 0;
/// The "fiscal year" of the facts about what is open now.
pub const NOW: i32 = 0;

/// Key `""`: all filed (by division, for the table of divisions).
pub const FILED: &str = "filed";
/// Key `""`: all resolved.
pub const RESOLVED: &str = "resolved";
pub const FILED_MONTH: &str = "filed_month";
pub const FILED_CATEGORY: &str = "filed_category";
pub const FILED_STATE: &str = "filed_state";
pub const TO_HEARING: &str = "filed_to_hearing";
pub const HEARING_TO_ASSIGNMENT: &str = "hearing_to_assignment";
pub const RESOLVED_MONTH: &str = "resolved_month";
pub const RESOLVED_CATEGORY: &str = "resolved_category";
pub const RESOLVED_SE: &str = "resolved_se";
pub const TO_RESOLUTION: &str = "assignment_to_resolution";
/// Keys `due` (resolved with a due time) and `within` (resolved by it).
pub const SLA: &str = "sla";
/// `n` ratings summing to `total`.
pub const RATING: &str = "rating";
pub const REOPENED: &str = "reopened";
pub const OPEN_STATE: &str = "open_state";
/// Key: the UTC day it was filed, `YYYY-MM-DD`.
pub const OPEN_DAY: &str = "open_day";
/// Key: the assignee's id, or `""`.
pub const OPEN_SE: &str = "open_se";

/// The states that make up the backlog.
pub const OPEN_STATES: [State; 4] = [
    State::Received,
    State::Hearing,
    State::Assigned,
    State::Waiting,
];

/// What the rollups need to know of a consultation.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// The division it rolls up to.
    pub division_id: i64,
    pub fiscal_year: i32,
    pub created_at: NaiveDateTime,
    pub category: Category,
    pub state: State,
    pub assignee_id: Option<i64>,
    pub hearing_at: Option<NaiveDateTime>,
    pub assigned_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub resolution_due_at: Option<NaiveDateTime>,
    pub rating: Option<i16>,
    pub reopen_count: i32,
}

/// Month 0..12 within the fiscal year (April = 0) of a stored UTC time.
pub fn fiscal_month(zone: &Tz, at: NaiveDateTime) -> usize {
    let month = zone.from_utc_datetime(&at).month() as usize;
    (month + 8) % 12
}

/// Whole hours between two times; a step taken out of order counts as no wait.
fn hours(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    (to - from).num_hours().max(0)
}

/// The bucket of a stage time: its hours up to three days, whole days beyond.
pub fn bucket(hours: i64) -> i64 {
    if hours < 72 {
        hours
    } else {
        hours / 24 * 24
    }
}

impl Facts {
    /// Adds to a slot of a division and of the whole organisation.
    pub fn add(
        &mut self,
        year: i32,
        division: i64,
        measure: &'static str,
        key: String,
        n: i64,
        total: i64,
    ) {
        for at in [division, WHOLE] {
            let slot = self.0.entry((year, at, measure, key.clone())).or_default();
            slot.0 += n;
            slot.1 += total;
        }
    }

    /// Adds another's counts to these.
    pub fn merge(&mut self, other: Facts) {
        for (slot, (n, total)) in other.0 {
            let entry = self.0.entry(slot).or_default();
            entry.0 += n;
            entry.1 += total;
        }
    }

    /// The facts of one consultation.
    pub fn of(c: &Counted, zone: &Tz) -> Facts {
        let mut f = Facts::default();
        let (fy, d) = (c.fiscal_year, c.division_id);
        f.add(fy, d, FILED, String::new(), 1, 0);
        f.add(
            fy,
            d,
            FILED_MONTH,
            fiscal_month(zone, c.created_at).to_string(),
            1,
            0,
        );
        f.add(fy, d, FILED_CATEGORY, c.category.as_str().to_string(), 1, 0);
        f.add(fy, d, FILED_STATE, c.state.as_str().to_string(), 1, 0);
        // A hearing counts once the consultation has moved on after it: assigned,
        // or closed or withdrawn, after the hearing's time.
        let moved_on = c.assigned_at.or(c.closed_at);
        if let (Some(hearing), Some(after)) = (c.hearing_at, moved_on) {
            if hearing <= after {
                f.add(
                    fy,
                    d,
                    TO_HEARING,
                    bucket(hours(c.created_at, hearing)).to_string(),
                    1,
                    0,
                );
                if let Some(assigned) = c.assigned_at {
                    let waited = bucket(hours(hearing, assigned)).to_string();
                    f.add(fy, d, HEARING_TO_ASSIGNMENT, waited, 1, 0);
                }
            }
        }
        if OPEN_STATES.contains(&c.state) {
            f.add(NOW, d, OPEN_STATE, c.state.as_str().to_string(), 1, 0);
            f.add(NOW, d, OPEN_DAY, c.created_at.date().to_string(), 1, 0);
            let se = c.assignee_id.map(|id| id.to_string()).unwrap_or_default();
            f.add(NOW, d, OPEN_SE, se, 1, 0);
        }
        if let Some(resolved) = c.resolved_at {
            let ry = fiscal_year(zone.from_utc_datetime(&resolved).date_naive());
            f.add(ry, d, RESOLVED, String::new(), 1, 0);
            f.add(
                ry,
                d,
                RESOLVED_MONTH,
                fiscal_month(zone, resolved).to_string(),
                1,
                0,
            );
            f.add(
                ry,
                d,
                RESOLVED_CATEGORY,
                c.category.as_str().to_string(),
                1,
                0,
            );
            let se = c.assignee_id.map(|id| id.to_string()).unwrap_or_default();
            f.add(ry, d, RESOLVED_SE, se, 1, 0);
            if let Some(assigned) = c.assigned_at {
                let took = bucket(hours(assigned, resolved)).to_string();
                f.add(ry, d, TO_RESOLUTION, took, 1, 0);
            }
            if let Some(due) = c.resolution_due_at {
                f.add(ry, d, SLA, "due".into(), 1, 0);
                if resolved <= due {
                    f.add(ry, d, SLA, "within".into(), 1, 0);
                }
            }
            if let Some(rating) = c.rating {
                f.add(ry, d, RATING, String::new(), 1, i64::from(rating));
            }
            if c.reopen_count > 0 {
                f.add(ry, d, REOPENED, String::new(), 1, 0);
            }
        }
        f
    }

    /// What turns `before`'s facts into `after`'s: the slots that change and by
    /// how much (a new consultation has no `before`).
    pub fn change(before: Option<&Facts>, after: &Facts) -> Facts {
        let mut delta = after.clone();
        if let Some(before) = before {
            for (slot, (n, total)) in &before.0 {
                let entry = delta.0.entry(slot.clone()).or_default();
                entry.0 -= n;
                entry.1 -= total;
            }
        }
        delta.0.retain(|_, (n, total)| *n != 0 || *total != 0);
        delta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time")
    }

    fn filed() -> Counted {
        Counted {
            division_id: 7,
            fiscal_year: 2024,
            created_at: at("2024-04-01 00:00"),
            category: Category::Rpa,
            state: State::Received,
            assignee_id: None,
            hearing_at: None,
            assigned_at: None,
            resolved_at: None,
            closed_at: None,
            resolution_due_at: None,
            rating: None,
            reopen_count: 0,
        }
    }

    #[test]
    fn stage_times_are_kept_to_the_hour_then_to_the_day() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(71), 71);
        assert_eq!(bucket(72), 72);
        assert_eq!(bucket(100), 96);
        assert_eq!(bucket(216), 216);
    }

    #[test]
    fn a_change_moves_one_count_and_touches_nothing_else() {
        let zone: Tz = "Asia/Tokyo".parse().expect("zone");
        let before = filed();
        let after = Counted {
            state: State::Assigned,
            assignee_id: Some(4),
            assigned_at: Some(at("2024-04-02 00:00")),
            ..before.clone()
        };
        let delta = Facts::change(Some(&Facts::of(&before, &zone)), &Facts::of(&after, &zone));
        let slots: Vec<(&str, &str, i64)> = delta
            .0
            .iter()
            .filter(|((year, division, _, _), _)| *division == 7 && *year == 2024)
            .map(|((_, _, measure, key), (n, _))| (*measure, key.as_str(), *n))
            .collect();
        assert_eq!(
            slots,
            vec![(FILED_STATE, "assigned", 1), (FILED_STATE, "received", -1)]
        );
    }

    #[test]
    fn what_is_open_counts_now_and_leaves_when_it_closes() {
        let zone: Tz = "Asia/Tokyo".parse().expect("zone");
        let open = Facts::of(&filed(), &zone);
        let now = |f: &Facts, measure: &'static str, key: &str| {
            f.0.get(&(NOW, WHOLE, measure, key.to_string()))
                .map(|(n, _)| *n)
        };
        assert_eq!(now(&open, OPEN_STATE, "received"), Some(1));
        assert_eq!(now(&open, OPEN_DAY, "2024-04-01"), Some(1));
        assert_eq!(now(&open, OPEN_SE, ""), Some(1));
        let withdrawn = Counted {
            state: State::Withdrawn,
            closed_at: Some(at("2024-04-03 00:00")),
            ..filed()
        };
        let delta = Facts::change(Some(&open), &Facts::of(&withdrawn, &zone));
        assert_eq!(now(&delta, OPEN_STATE, "received"), Some(-1));
        assert_eq!(now(&delta, OPEN_DAY, "2024-04-01"), Some(-1));
    }

    #[test]
    fn a_resolution_counts_in_the_year_it_happened_in_the_display_zone() {
        let zone: Tz = "Asia/Tokyo".parse().expect("zone");
        let c = Counted {
            state: State::Resolved,
            assignee_id: Some(4),
            assigned_at: Some(at("2025-03-30 00:00")),
            // April 1 09:00 in Tokyo: fiscal 2025.
            resolved_at: Some(at("2025-04-01 00:00")),
            resolution_due_at: Some(at("2025-03-31 00:00")),
            rating: Some(4),
            ..filed()
        };
        let f = Facts::of(&c, &zone);
        let whole = |measure: &'static str, key: &str| {
            f.0.get(&(2025, WHOLE, measure, key.to_string())).copied()
        };
        assert_eq!(whole(RESOLVED_MONTH, "0"), Some((1, 0)));
        assert_eq!(whole(TO_RESOLUTION, "48"), Some((1, 0)));
        assert_eq!(whole(SLA, "due"), Some((1, 0)));
        assert_eq!(whole(SLA, "within"), None, "late");
        assert_eq!(whole(RATING, ""), Some((1, 4)));
        assert_eq!(
            f.0.get(&(2024, WHOLE, FILED_MONTH, "0".to_string())),
            Some(&(1, 0))
        );
    }
}
