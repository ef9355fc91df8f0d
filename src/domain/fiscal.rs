//! Japanese fiscal years (April to March) and their era labels, and consultation numbers.

use chrono::{Datelike, NaiveDate};

/// The fiscal year a date falls in: April 1 starts a new one.
pub fn fiscal_year(date: NaiveDate) -> i32 {
    if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// The first and last day of a fiscal year.
pub fn fiscal_year_bounds(fiscal_year: i32) -> (NaiveDate, NaiveDate) {
    let start = NaiveDate::from_ymd_opt(fiscal_year, 4, 1).unwrap_or(NaiveDate::MIN);
    let end = NaiveDate::from_ymd_opt(fiscal_year + 1, 3, 31).unwrap_or(NaiveDate::MAX);
    (start, end)
}

/// `FY2025`.
pub fn fiscal_year_label(fiscal_year: i32) -> String {
    format!("FY{fiscal_year}")
}

/// The label in the Japanese era, as city documents write it: `令和7年度`, `令和元年度`.
/// Fiscal 2019 began under Heisei but is conventionally called 令和元年度.
pub fn era_label(fiscal_year: i32) -> String {
    let (era, year) = if fiscal_year >= 2019 {
        ("令和", fiscal_year - 2018)
    } else {
        ("平成", fiscal_year - 1988)
    };
    if year == 1 {
        format!("{era}元年度")
    } else {
        format!("{era}{year}年度")
    }
}

/// `DX-2025-0001`: the number is per fiscal year and at least four digits.
pub fn consultation_number(fiscal_year: i32, seq: i64) -> String {
    format!("DX-{fiscal_year}-{seq:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn march_31_belongs_to_the_previous_fiscal_year_and_april_1_starts_the_next() {
        assert_eq!(fiscal_year(date(2026, 3, 31)), 2025);
        assert_eq!(fiscal_year(date(2026, 4, 1)), 2026);
        assert_eq!(fiscal_year(date(2025, 12, 31)), 2025);
        assert_eq!(fiscal_year(date(2026, 1, 1)), 2025);
    }

    #[test]
    fn era_labels_follow_reiwa_with_gannen() {
        assert_eq!(era_label(2025), "令和7年度");
        assert_eq!(era_label(2024), "令和6年度");
        assert_eq!(era_label(2019), "令和元年度");
        assert_eq!(era_label(2018), "平成30年度");
        assert_eq!(fiscal_year_label(2025), "FY2025");
    }

    #[test]
    fn numbers_are_zero_padded_to_four_digits_and_grow_past_them() {
        assert_eq!(consultation_number(2025, 1), "DX-2025-0001");
        assert_eq!(consultation_number(2025, 123), "DX-2025-0123");
        assert_eq!(consultation_number(2025, 12345), "DX-2025-12345");
    }

    #[test]
    fn bounds_span_april_to_march() {
        assert_eq!(
            fiscal_year_bounds(2025),
            (date(2025, 4, 1), date(2026, 3, 31))
        );
    }
}
