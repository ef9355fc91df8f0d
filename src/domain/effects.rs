//! What a workflow event does to a consultation's columns, and what its timeline
//! entry records. One pure function, so the desk (`db::consultations`) and the
//! data generator (`generate`) cannot disagree about an event's effects.

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use super::workflow::{Payload, State};

/// The columns the workflow writes. Times are UTC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub state: State,
    pub assignee_id: Option<i64>,
    pub hearing_at: Option<NaiveDateTime>,
    pub hearing_place: Option<String>,
    pub resolution: Option<String>,
    pub system_id: Option<i64>,
    pub duplicate_of: Option<i64>,
    pub rating: Option<i16>,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// The first assignment (dashboards time the stages from it).
    pub assigned_at: Option<NaiveDateTime>,
    pub reopen_count: i32,
}

/// The timeline payload of a filing: the number it was given and its title.
pub fn filed(number: &str, title: &str) -> Value {
    json!({ "number": number, "title": title })
}

/// Moves `record` to `to` with the payload's changes, made at `now`, and returns
/// the event's timeline payload (which also keeps what the event replaced).
pub fn apply(record: &mut Record, to: State, payload: &Payload, now: NaiveDateTime) -> Value {
    record.state = to;
    let json = match payload {
        Payload::ScheduleHearing { hearing_at, place } => {
            let previous = record.hearing_at.map(|t| t.and_utc().to_rfc3339());
            record.hearing_at = Some(hearing_at.naive_utc());
            record.hearing_place = Some(place.clone());
            record.first_response_at.get_or_insert(now);
            json!({
                "hearing_at": hearing_at.to_rfc3339(),
                "hearing_place": place,
                "previous_hearing_at": previous,
            })
        }
        Payload::Assign {
            assignee_id,
            reason,
        } => {
            let previous = record.assignee_id.replace(*assignee_id);
            record.first_response_at.get_or_insert(now);
            record.assigned_at.get_or_insert(now);
            json!({
                "assignee_id": assignee_id,
                "previous_assignee_id": previous,
                "reason": reason,
            })
        }
        Payload::RequestInfo { message } | Payload::ProvideInfo { message } => {
            json!({ "message": message })
        }
        Payload::Resolve {
            resolution,
            system_id,
            ..
        } => {
            record.resolution = Some(resolution.clone());
            // A resolution without a system keeps the link an earlier one made.
            if system_id.is_some() {
                record.system_id = *system_id;
            }
            record.resolved_at = Some(now);
            json!({ "resolution": resolution, "system_id": system_id })
        }
        Payload::Reopen { reason } => {
            record.resolved_at = None;
            record.reopen_count += 1;
            json!({ "reason": reason })
        }
        Payload::Close { rating } => {
            record.rating = *rating;
            record.closed_at = Some(now);
            json!({ "rating": rating })
        }
        Payload::Withdraw {
            reason,
            duplicate_of,
        } => {
            record.duplicate_of = *duplicate_of;
            record.closed_at = Some(now);
            json!({ "reason": reason, "duplicate_of": duplicate_of })
        }
    };
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(text: &str) -> NaiveDateTime {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
            .naive_utc()
    }

    #[test]
    fn the_first_response_and_first_assignment_are_kept_through_hand_overs() {
        let mut record = Record::default();
        let first = at("2025-06-02T00:00:00Z");
        let json = apply(
            &mut record,
            State::Assigned,
            &Payload::Assign {
                assignee_id: 4,
                reason: Some("急ぎ".into()),
            },
            first,
        );
        assert_eq!(json["previous_assignee_id"], Value::Null);
        let later = at("2025-06-03T00:00:00Z");
        let json = apply(
            &mut record,
            State::Assigned,
            &Payload::Assign {
                assignee_id: 5,
                reason: None,
            },
            later,
        );
        assert_eq!(json["previous_assignee_id"], 4);
        assert_eq!(record.assignee_id, Some(5));
        assert_eq!(record.first_response_at, Some(first));
        assert_eq!(record.assigned_at, Some(first));
    }

    #[test]
    fn reopening_clears_the_resolution_time_and_counts() {
        let mut record = Record {
            state: State::Resolved,
            resolved_at: Some(at("2025-06-02T00:00:00Z")),
            system_id: Some(7),
            ..Default::default()
        };
        apply(
            &mut record,
            State::Assigned,
            &Payload::Reopen {
                reason: "まだ動かない".into(),
            },
            at("2025-06-03T00:00:00Z"),
        );
        assert_eq!(record.resolved_at, None);
        assert_eq!(record.reopen_count, 1);
        // A second resolution without a system keeps the earlier link.
        apply(
            &mut record,
            State::Resolved,
            &Payload::Resolve {
                resolution: "直しました".into(),
                system_id: None,
                new_system: None,
            },
            at("2025-06-04T00:00:00Z"),
        );
        assert_eq!(record.system_id, Some(7));
        assert_eq!(record.state, State::Resolved);
    }
}
