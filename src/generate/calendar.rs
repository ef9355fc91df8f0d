//! Time in the generated history: the business days it spans, office hours, local
//! and stored (UTC) time, and on which days the consultations are filed. Every event
//! of every timeline asks "n business days later, in office hours", so the business
//! days are a lookup table answering in O(1) rather than a walk through the
//! calendar.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::calendar::{is_business_day, BusinessCalendar};
use crate::domain::fiscal::fiscal_year;
use crate::domain::sla::SlaPolicy;
use crate::settings::Settings;

use super::FISCAL_YEARS;

/// Fixed inputs of the whole run.
pub(super) struct Ctx {
    pub(super) tz: Tz,
    pub(super) calendar: BusinessCalendar,
    pub(super) sla: SlaPolicy,
    pub(super) reopen_window: Duration,
    pub(super) remind_before: Duration,
    /// The end of history, local and UTC.
    pub(super) end: NaiveDateTime,
    pub(super) end_utc: NaiveDateTime,
    /// The fiscal years of the history, oldest first.
    pub(super) fiscal_years: Vec<i32>,
    pub(super) days: BusinessDays,
}

impl Ctx {
    pub(super) fn new(settings: &Settings, as_of: NaiveDate) -> Ctx {
        let tz = settings.timezone;
        let end = as_of.and_time(NaiveTime::MIN);
        let last_fy = fiscal_year(as_of.pred_opt().unwrap_or(as_of));
        let fiscal_years: Vec<i32> = (last_fy - FISCAL_YEARS + 1..=last_fy).collect();
        let start = fy_start(fiscal_years[0]) - Duration::days(40);
        let ctx_days = BusinessDays::new(start, as_of + Duration::days(400));
        let mut ctx = Ctx {
            tz,
            calendar: BusinessCalendar::new(tz),
            sla: settings.sla,
            reopen_window: Duration::days(settings.reopen_window_days),
            remind_before: settings.sla.remind_before,
            end,
            end_utc: end,
            fiscal_years,
            days: ctx_days,
        };
        ctx.end_utc = ctx.utc(end);
        ctx
    }

    /// A local wall-clock time as stored: UTC.
    pub(super) fn utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.naive_utc(),
            // A time skipped by a daylight-saving jump: an hour later exists.
            chrono::LocalResult::None => self
                .tz
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map(|t| t.naive_utc())
                .unwrap_or(local),
        }
    }
}

pub(super) fn fy_start(fy: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(fy, 4, 1).unwrap_or(NaiveDate::MIN)
}

/// The business days around the history, for O(1) "n business days later".
pub(super) struct BusinessDays {
    base: NaiveDate,
    days: Vec<NaiveDate>,
    /// For each calendar day from `base`: the index of the first business day on or after it.
    on_or_after: Vec<u32>,
}

impl BusinessDays {
    pub(super) fn new(from: NaiveDate, to: NaiveDate) -> BusinessDays {
        let mut days = Vec::new();
        let mut on_or_after = Vec::new();
        let mut pending = 0usize;
        let mut d = from;
        while d <= to {
            on_or_after.push(0);
            if is_business_day(d) {
                for slot in on_or_after.iter_mut().skip(pending) {
                    *slot = days.len() as u32;
                }
                pending = on_or_after.len();
                days.push(d);
            }
            d += Duration::days(1);
        }
        // Days after the last business day point at it.
        let last = days.len().saturating_sub(1) as u32;
        for slot in on_or_after.iter_mut().skip(pending) {
            *slot = last;
        }
        BusinessDays {
            base: from,
            days,
            on_or_after,
        }
    }

    fn index_on_or_after(&self, date: NaiveDate) -> usize {
        let offset = (date - self.base).num_days().max(0) as usize;
        let offset = offset.min(self.on_or_after.len().saturating_sub(1));
        self.on_or_after.get(offset).copied().unwrap_or(0) as usize
    }

    /// The date `n` business days after `date` (n ≥ 1); from a day off, the first
    /// business day counts as one.
    pub(super) fn after(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let first = self.index_on_or_after(date);
        let is_bd = self.days.get(first) == Some(&date);
        let target = first + n as usize - usize::from(!is_bd);
        self.days
            .get(target.min(self.days.len().saturating_sub(1)))
            .copied()
            .unwrap_or(date)
    }
}

/// A moment in office hours (08:35–17:25), to the second.
pub(super) fn office_time(rng: &mut StdRng) -> NaiveTime {
    let secs = 8 * 3600 + 35 * 60 + rng.gen_range(0..(8 * 3600 + 50 * 60));
    NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or(NaiveTime::MIN)
}

/// A moment `n` business days after `t` in office hours, or for `n == 0` a little
/// later the same day.
pub(super) fn later(ctx: &Ctx, rng: &mut StdRng, t: NaiveDateTime, n: u32) -> NaiveDateTime {
    if n == 0 {
        t + Duration::seconds(rng.gen_range(5 * 60..150 * 60))
    } else {
        ctx.days.after(t.date(), n).and_time(office_time(rng))
    }
}

/// An integer in `lo..=hi` leaning towards `lo`.
pub(super) fn skewed(rng: &mut StdRng, lo: u32, hi: u32) -> u32 {
    let u: f64 = rng.gen();
    lo + ((hi - lo + 1) as f64 * u * u) as u32
}

/// When consultations are filed.
pub(super) struct Plan {
    /// Business days in order with how many consultations are filed on each.
    pub(super) days: Vec<(NaiveDate, u32)>,
    pub(super) per_fiscal_year: Vec<(i32, usize)>,
}

impl Plan {
    pub(super) fn new(ctx: &Ctx, count: usize, seed: u64) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x9_1A4_u64);
        let first = fy_start(ctx.fiscal_years[0]);
        let last = ctx.end.date();
        let mut days = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        let mut d = first;
        while d < last {
            if is_business_day(d) {
                let k = fiscal_year(d) - ctx.fiscal_years[0];
                // The desk grows as the city learns it exists; April (new staff, new
                // rules) and February (next year's budget) are busy, August quiet.
                let month = match d.month() {
                    4 => 1.3,
                    5 | 6 => 1.1,
                    8 => 0.75,
                    12 => 0.85,
                    2 => 1.15,
                    _ => 1.0,
                };
                total += 1.22f64.powi(k) * month;
                days.push((d, 0u32));
                cumulative.push(total);
            }
            d += Duration::days(1);
        }
        if !days.is_empty() {
            for _ in 0..count {
                let x = rng.gen::<f64>() * total;
                let i = cumulative.partition_point(|c| *c <= x).min(days.len() - 1);
                days[i].1 += 1;
            }
        }
        let per_fiscal_year = ctx
            .fiscal_years
            .iter()
            .map(|fy| {
                let n = days
                    .iter()
                    .filter(|(d, _)| fiscal_year(*d) == *fy)
                    .map(|(_, n)| *n as usize)
                    .sum();
                (*fy, n)
            })
            .collect();
        days.retain(|(_, n)| *n > 0);
        Plan {
            days,
            per_fiscal_year,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn business_days_skip_weekends_holidays_and_the_year_end() {
        let days = BusinessDays::new(date(2025, 12, 20), date(2026, 1, 31));
        // Fri Dec 26 + 1 → Mon Jan 5 (Dec 29 – Jan 3 closed, Jan 4 Sunday).
        assert_eq!(days.after(date(2025, 12, 26), 1), date(2026, 1, 5));
        // From Saturday, Monday is the first business day.
        assert_eq!(days.after(date(2026, 1, 10), 1), date(2026, 1, 13)); // Jan 12 成人の日
        assert_eq!(days.after(date(2026, 1, 13), 3), date(2026, 1, 16));
    }
}
