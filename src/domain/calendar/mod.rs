//! Business days of a Japanese city office: not Saturday or Sunday, not a national
//! holiday (the table in `holidays_jp.csv`, from @holiday-jp/holiday_jp; refresh it
//! with `scripts/update-holidays.sh`), and not the year-end closure (Dec 29 – Jan 3).
//! Durations are counted in business time: only the hours of business days count.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

fn holidays() -> &'static HashMap<NaiveDate, &'static str> {
    static HOLIDAYS: OnceLock<HashMap<NaiveDate, &'static str>> = OnceLock::new();
    HOLIDAYS.get_or_init(|| {
        include_str!("holidays_jp.csv")
            .lines()
            .filter_map(|line| {
                let mut fields = line.split(',');
                let date = NaiveDate::parse_from_str(fields.next()?, "%Y-%m-%d").ok()?;
                Some((date, fields.next()?))
            })
            .collect()
    })
}

/// The last date the holiday table covers; business-day arithmetic beyond it
/// knows weekends and the closure only.
pub fn holidays_known_until() -> NaiveDate {
    holidays().keys().max().copied().unwrap_or(NaiveDate::MIN)
}

/// The name of a national holiday (`振替休日` included).
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    holidays().get(&date).copied()
}

/// December 29 to January 3.
pub fn is_year_end_closure(date: NaiveDate) -> bool {
    matches!((date.month(), date.day()), (12, 29..=31) | (1, 1..=3))
}

pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
        && holiday_name(date).is_none()
        && !is_year_end_closure(date)
}

/// Business-time arithmetic in a time zone.
#[derive(Debug, Clone, Copy)]
pub struct BusinessCalendar {
    pub timezone: Tz,
}

impl BusinessCalendar {
    pub fn new(timezone: Tz) -> Self {
        BusinessCalendar { timezone }
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.timezone
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    }

    /// `start` plus `amount` of business time.
    pub fn add(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        let mut at = start;
        let mut remaining = amount;
        // Bounded: even a long stretch of holidays ends within days.
        for _ in 0..100_000 {
            let date = self.local_date(at);
            let day_end = self.start_of(date + Duration::days(1));
            if is_business_day(date) {
                let available = day_end - at;
                if remaining <= available {
                    return at + remaining;
                }
                remaining -= available;
            }
            at = day_end;
        }
        at
    }

    /// `start` plus whole business days.
    pub fn add_days(&self, start: DateTime<Utc>, days: i64) -> DateTime<Utc> {
        self.add(start, Duration::days(days))
    }

    /// The business time between two instants (zero if `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        let mut at = from;
        while at < to {
            let date = self.local_date(at);
            let day_end = self.start_of(date + Duration::days(1)).min(to);
            if is_business_day(date) {
                total += day_end - at;
            }
            at = day_end;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn tokyo(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(chrono_tz::Asia::Tokyo)
    }

    #[test]
    fn the_table_covers_2027_and_knows_its_holidays() {
        assert!(holidays_known_until() >= d(2027, 12, 31));
        assert_eq!(holiday_name(d(2027, 1, 11)), Some("成人の日"));
        assert_eq!(holiday_name(d(2027, 3, 22)), Some("春分の日 振替休日"));
        assert_eq!(holiday_name(d(2025, 5, 6)), Some("こどもの日 振替休日"));
        assert_eq!(holiday_name(d(2025, 5, 7)), None);
    }

    #[test]
    fn golden_week_2025_is_skipped() {
        // Filed Mon Apr 28 10:00; Apr 29 (昭和の日) is off, Apr 30 and May 1–2 are
        // business days, May 3–6 are off.
        let filed = tokyo("2025-04-28T10:00:00+09:00");
        assert_eq!(cal().add_days(filed, 3), tokyo("2025-05-02T10:00:00+09:00"));
        assert_eq!(cal().add_days(filed, 4), tokyo("2025-05-07T10:00:00+09:00"));
    }

    #[test]
    fn the_year_end_closure_is_skipped() {
        // Fri Dec 26, 2025 + 1 business day: Dec 27–28 weekend, Dec 29 – Jan 3 closed,
        // Jan 4 is a Sunday, so Monday Jan 5, 2026.
        let filed = tokyo("2025-12-26T15:00:00+09:00");
        assert_eq!(cal().add_days(filed, 1), tokyo("2026-01-05T15:00:00+09:00"));
        assert!(is_year_end_closure(d(2025, 12, 29)));
        assert!(is_year_end_closure(d(2026, 1, 3)));
        assert!(!is_year_end_closure(d(2026, 1, 4)));
    }

    #[test]
    fn a_substitute_holiday_is_skipped() {
        // Fri Mar 19, 2027 + 1 business day: Mar 20–21 weekend (21 is 春分の日),
        // Mar 22 is its substitute holiday, so Tuesday Mar 23.
        let filed = tokyo("2027-03-19T09:00:00+09:00");
        assert_eq!(cal().add_days(filed, 1), tokyo("2027-03-23T09:00:00+09:00"));
    }

    #[test]
    fn filing_on_a_weekend_starts_the_clock_on_monday() {
        let filed = tokyo("2025-06-07T10:00:00+09:00"); // Saturday
        assert_eq!(cal().add_days(filed, 1), tokyo("2025-06-10T00:00:00+09:00"));
    }

    #[test]
    fn business_time_between_skips_days_off() {
        let friday = tokyo("2025-06-06T12:00:00+09:00");
        let monday = tokyo("2025-06-09T12:00:00+09:00");
        assert_eq!(cal().between(friday, monday), Duration::hours(24));
        assert_eq!(cal().between(monday, friday), Duration::zero());
        assert_eq!(cal().add(friday, cal().between(friday, monday)), monday);
    }
}
