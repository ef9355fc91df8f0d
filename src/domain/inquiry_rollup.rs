//! What one helpdesk inquiry adds to the rollups (see [`super::rollup`]), so the
//! report of the two streams side by side reads summed rows: per fiscal year of
//! asking and division, the month, topic and channel; once answered, the SE and
//! the time to the first answer; escalations. Deflections ("this solved it")
//! count under the fiscal year and division of the person they helped.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::inquiry::{Channel, InquiryState, Topic};
use super::rollup::{fiscal_month, Facts};

pub const INQUIRY_MONTH: &str = "inquiry_month";
pub const INQUIRY_TOPIC: &str = "inquiry_topic";
pub const INQUIRY_CHANNEL: &str = "inquiry_channel";
/// `n` first answers taking `total` seconds.
pub const INQUIRY_FIRST_ANSWER: &str = "inquiry_first_answer";
/// Key: the SE who holds an answered inquiry.
pub const INQUIRY_SE: &str = "inquiry_se";
pub const INQUIRY_ESCALATED: &str = "inquiry_escalated";
/// Key: the fiscal month of the deflection.
pub const INQUIRY_DEFLECTED: &str = "inquiry_deflected";

/// Every inquiry measure (a recount takes them all away first).
pub const INQUIRY_MEASURES: [&str; 7] = [
    INQUIRY_MONTH,
    INQUIRY_TOPIC,
    INQUIRY_CHANNEL,
    INQUIRY_FIRST_ANSWER,
    INQUIRY_SE,
    INQUIRY_ESCALATED,
    INQUIRY_DEFLECTED,
];

/// What the rollups need to know of an inquiry.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedInquiry {
    pub division_id: i64,
    pub fiscal_year: i32,
    pub created_at: NaiveDateTime,
    pub topic: Topic,
    pub channel: Channel,
    pub state: InquiryState,
    pub assignee_id: Option<i64>,
    pub first_answered_at: Option<NaiveDateTime>,
}

/// The facts of one inquiry.
pub fn inquiry_facts(c: &CountedInquiry, zone: &Tz) -> Facts {
    let mut f = Facts::default();
    let (fy, d) = (c.fiscal_year, c.division_id);
    let month = fiscal_month(zone, c.created_at).to_string();
    f.add(fy, d, INQUIRY_MONTH, month, 1, 0);
    f.add(fy, d, INQUIRY_TOPIC, c.topic.as_str().into(), 1, 0);
    f.add(fy, d, INQUIRY_CHANNEL, c.channel.as_str().into(), 1, 0);
    if let Some(at) = c.first_answered_at {
        let seconds = (at - c.created_at).num_seconds().max(0);
        f.add(fy, d, INQUIRY_FIRST_ANSWER, String::new(), 1, seconds);
        let se = c.assignee_id.map(|id| id.to_string()).unwrap_or_default();
        f.add(fy, d, INQUIRY_SE, se, 1, 0);
    }
    if c.state == InquiryState::Escalated {
        f.add(fy, d, INQUIRY_ESCALATED, String::new(), 1, 0);
    }
    f
}

/// One deflection at `at` for someone of `division_id`.
pub fn deflection_facts(fiscal_year: i32, division_id: i64, at: NaiveDateTime, zone: &Tz) -> Facts {
    let mut f = Facts::default();
    let month = fiscal_month(zone, at).to_string();
    f.add(fiscal_year, division_id, INQUIRY_DEFLECTED, month, 1, 0);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rollup::WHOLE;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time")
    }

    #[test]
    fn an_answered_inquiry_counts_its_month_topic_channel_se_and_first_answer() {
        let c = CountedInquiry {
            division_id: 7,
            fiscal_year: 2025,
            // 2025-05-01 09:00 in Tokyo: May, the second fiscal month.
            created_at: at("2025-05-01 00:00"),
            topic: Topic::Error,
            channel: Channel::Phone,
            state: InquiryState::Answered,
            assignee_id: Some(4),
            first_answered_at: Some(at("2025-05-01 02:00")),
        };
        let f = inquiry_facts(&c, &chrono_tz::Asia::Tokyo);
        for division in [7, WHOLE] {
            let get =
                |m: &'static str, k: &str| f.0.get(&(2025, division, m, k.to_string())).copied();
            assert_eq!(get(INQUIRY_MONTH, "1"), Some((1, 0)));
            assert_eq!(get(INQUIRY_TOPIC, "error"), Some((1, 0)));
            assert_eq!(get(INQUIRY_CHANNEL, "phone"), Some((1, 0)));
            assert_eq!(get(INQUIRY_FIRST_ANSWER, ""), Some((1, 7200)));
            assert_eq!(get(INQUIRY_SE, "4"), Some((1, 0)));
            assert_eq!(get(INQUIRY_ESCALATED, ""), None);
        }
        let open = CountedInquiry {
            state: InquiryState::Open,
            first_answered_at: None,
            ..c
        };
        let f = inquiry_facts(&open, &chrono_tz::Asia::Tokyo);
        assert!(!f
            .0
            .keys()
            .any(|(_, _, m, _)| *m == INQUIRY_FIRST_ANSWER || *m == INQUIRY_SE));
    }
}
