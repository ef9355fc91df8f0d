//! The report of the desk's two streams side by side (DESIGN.md: "デジコンと
//! ヘルプデスクの相談件数"): per month of a fiscal year, consultations filed and
//! helpdesk inquiries asked, inquiries by topic, channel and SE, the mean time to
//! the first answer, escalations and deflections, summed from the rollups.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::dashboard::Stat;
use crate::domain::fiscal::{era_label, fiscal_year_label};
use crate::domain::inquiry_rollup::{
    INQUIRY_CHANNEL, INQUIRY_DEFLECTED, INQUIRY_ESCALATED, INQUIRY_FIRST_ANSWER, INQUIRY_MONTH,
    INQUIRY_SE, INQUIRY_TOPIC,
};
use crate::domain::rollup::FILED_MONTH;

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct StreamMonth {
    /// `2025-04`
    pub month: String,
    pub consultations: i64,
    pub inquiries: i64,
    /// Questions the FAQ or an earlier answer settled before they were asked.
    pub deflected: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct KeyCount {
    pub key: String,
    pub count: i64,
    /// For SEs: their name.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct HelpdeskReport {
    pub fiscal_year: i32,
    /// `FY2025`
    pub label: String,
    /// `令和7年度`
    pub era_label: String,
    pub consultations: i64,
    pub inquiries: i64,
    pub months: Vec<StreamMonth>,
    /// Wire values of the topics.
    pub by_topic: Vec<KeyCount>,
    pub by_channel: Vec<KeyCount>,
    /// SE ids (as text) with the inquiries they answered.
    pub by_se: Vec<KeyCount>,
    pub first_answers: i64,
    /// Mean hours from the question to the first answer (`None`: none answered).
    pub first_answer_hours: Option<f64>,
    pub escalated: i64,
    pub deflected: i64,
}

/// The report of `year` from its rollup rows (already narrowed to the caller's
/// divisions, or the whole organisation's).
pub fn compute(year: i32, rows: &[Stat]) -> HelpdeskReport {
    let mut sums: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.fiscal_year == year) {
        let entry = sums.entry((&row.measure, &row.key)).or_default();
        entry.0 += row.n;
        entry.1 += row.total;
    }
    let n = |measure: &str, key: &str| sums.get(&(measure, key)).map_or(0, |v| v.0);
    let keyed = |measure: &str| -> Vec<KeyCount> {
        let mut list: Vec<KeyCount> = sums
            .iter()
            .filter(|((m, _), (count, _))| *m == measure && *count != 0)
            .map(|((_, key), (count, _))| KeyCount {
                key: key.to_string(),
                count: *count,
                name: None,
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        list
    };
    let months: Vec<StreamMonth> = (0..12)
        .map(|i| {
            let calendar_month = (i + 3) % 12 + 1;
            let calendar_year = if calendar_month >= 4 { year } else { year + 1 };
            let key = i.to_string();
            StreamMonth {
                month: format!("{calendar_year}-{calendar_month:02}"),
                consultations: n(FILED_MONTH, &key),
                inquiries: n(INQUIRY_MONTH, &key),
                deflected: n(INQUIRY_DEFLECTED, &key),
            }
        })
        .collect();
    let (first_answers, seconds) = sums
        .get(&(INQUIRY_FIRST_ANSWER, ""))
        .copied()
        .unwrap_or_default();
    HelpdeskReport {
        fiscal_year: year,
        label: fiscal_year_label(year),
        era_label: era_label(year),
        consultations: months.iter().map(|m| m.consultations).sum(),
        inquiries: months.iter().map(|m| m.inquiries).sum(),
        deflected: months.iter().map(|m| m.deflected).sum(),
        months,
        by_topic: keyed(INQUIRY_TOPIC),
        by_channel: keyed(INQUIRY_CHANNEL),
        by_se: keyed(INQUIRY_SE),
        first_answers,
        first_answer_hours: (first_answers > 0)
            .then(|| (seconds as f64 / first_answers as f64 / 360.0).round() / 10.0),
        escalated: n(INQUIRY_ESCALATED, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(measure: &str, key: &str, n: i64, total: i64) -> Stat {
        Stat {
            fiscal_year: 2025,
            division_id: 0,
            measure: measure.into(),
            key: key.into(),
            n,
            total,
        }
    }

    #[test]
    fn the_two_streams_are_counted_side_by_side_per_month() {
        let rows = vec![
            stat(FILED_MONTH, "0", 2, 0),
            stat(INQUIRY_MONTH, "0", 7, 0),
            stat(INQUIRY_MONTH, "11", 3, 0),
            stat(INQUIRY_TOPIC, "error", 6, 0),
            stat(INQUIRY_TOPIC, "how_to", 4, 0),
            stat(INQUIRY_FIRST_ANSWER, "", 4, 4 * 5400),
            stat(INQUIRY_DEFLECTED, "11", 2, 0),
        ];
        let r = compute(2025, &rows);
        assert_eq!(r.months[0].month, "2025-04");
        assert_eq!(r.months[11].month, "2026-03");
        assert_eq!((r.months[0].consultations, r.months[0].inquiries), (2, 7));
        assert_eq!((r.consultations, r.inquiries, r.deflected), (2, 10, 2));
        assert_eq!(r.by_topic[0].key, "error");
        assert_eq!(r.first_answer_hours, Some(1.5));
        assert_eq!(r.label, "FY2025");
    }
}
