//! iCalendar hearing invitations (RFC 5545/5546, `METHOD:REQUEST`), built with the
//! `icalendar` crate. The UID is stable per consultation and SEQUENCE counts the
//! reschedules, so calendars update the one event instead of adding another.
//! Times are written in UTC, which Outlook and Thunderbird both accept without a
//! VTIMEZONE block.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, EventLike, Property};

use crate::db::consultations::Consultation;

pub struct Hearing<'a> {
    pub consultation: &'a Consultation,
    pub starts_at: DateTime<Utc>,
    pub place: &'a str,
    /// 0 for the first schedule, raised on each reschedule.
    pub sequence: i64,
    pub organizer: &'a str,
    pub attendee: &'a str,
    pub link: &'a str,
}

/// The UID of a consultation's hearing.
pub fn hearing_uid(consultation_id: i64, organizer: &str) -> String {
    let domain = organizer.rsplit('@').next().unwrap_or("digicon");
    format!("hearing-{consultation_id}@{domain}")
}

pub fn hearing_request(h: &Hearing) -> String {
    let c = h.consultation;
    let event = icalendar::Event::new()
        .uid(&hearing_uid(c.id, h.organizer))
        .sequence(u32::try_from(h.sequence).unwrap_or(0))
        .summary(&format!("[{}] {}", c.number, c.title))
        .description(&format!("{}\n{}", c.title, h.link))
        .location(h.place)
        .starts(h.starts_at)
        .ends(h.starts_at + Duration::hours(1))
        .append_property(Property::new(
            "ORGANIZER",
            format!("mailto:{}", h.organizer),
        ))
        .append_property(
            Property::new("ATTENDEE", format!("mailto:{}", h.attendee))
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .add_parameter("PARTSTAT", "NEEDS-ACTION")
                .add_parameter("RSVP", "TRUE")
                .done(),
        )
        .append_property(Property::new("STATUS", "CONFIRMED"))
        .done();
    let mut calendar = Calendar::new();
    calendar.append_property(Property::new("METHOD", "REQUEST"));
    calendar.push(event);
    calendar.done().to_string()
}
