//! The rules of importing kintone records that need no I/O: how kintone writes
//! dates and times, how a record's original number reads, which workflow events
//! lead to the state a record was exported in, and the report of problems.

use std::collections::VecDeque;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::inquiry::{InquiryEvent, InquiryState, INQUIRY_WORKFLOW};
use super::workflow::{Event, State, WORKFLOW};

/// One thing wrong with the file or the mapping: where (the physical line of the
/// file, counting line breaks inside quoted values, and the kintone field as
/// written in the file) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `None`: the mapping file or the file as a whole.
    pub line: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn at(line: u64, field: &str, message: impl Into<String>) -> Problem {
        Problem {
            line: Some(line),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn general(message: impl Into<String>) -> Problem {
        Problem {
            line: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.field) {
            (Some(line), Some(field)) => write!(f, "line {line}, {field}: {}", self.message),
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            (None, Some(field)) => write!(f, "{field}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// A kintone date: `2023-04-05`, `2023/4/5`, `2023/04/05` or `2023年4月5日`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let parts: Vec<&str> = text
        .trim_end_matches('日')
        .split(['-', '/', '年', '月'])
        .collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// A kintone date-time as stored (UTC): `2023-04-05 09:30`, `2023/04/05 9:30`,
/// with or without seconds, in the display zone; ISO 8601 with an offset or `Z`
/// (kintone's own export and API); or a date alone, taken as the start of that
/// day in the display zone.
pub fn parse_datetime(text: &str, zone: &Tz) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.naive_utc());
    }
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (parse_date(date)?, parse_time(time.trim())?),
        None => (parse_date(text)?, NaiveTime::MIN),
    };
    let local = date.and_time(time);
    let at = zone.from_local_datetime(&local).earliest()?;
    Some(at.naive_utc())
}

/// `9:30`, `09:30`, `09:30:15`.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = text.split(':').collect();
    let number = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match parts.as_slice() {
        [h, m] => NaiveTime::from_hms_opt(number(h)?, number(m)?, 0),
        [h, m, s] => NaiveTime::from_hms_opt(number(h)?, number(m)?, number(s)?),
        _ => None,
    }
}

/// The digits at the end of a kintone record number (`123`, or `DIGICON-123`
/// when the app has an app code).
pub fn record_seq(record_number: &str) -> Option<i64> {
    let digits: String = record_number
        .trim()
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// The fiscal year and sequence of a number in our own pattern (`DX-2023-0012`
/// with prefix `DX`), so that the counter can be moved past it.
pub fn number_seq(number: &str, prefix: &str) -> Option<(i32, i64)> {
    let rest = number.strip_prefix(prefix)?.strip_prefix('-')?;
    let (year, seq) = rest.split_once('-')?;
    if year.len() != 4 || seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((year.parse().ok()?, seq.parse().ok()?))
}

/// A name as compared across systems: without spaces (kintone writes
/// `田中 太郎`, `田中　太郎` or `田中太郎` for the same person).
pub fn name_key(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The values of a kintone user or department field: one per line (kintone writes
/// several selected users one per line in a cell).
pub fn values(cell: &str) -> impl Iterator<Item = &str> {
    cell.lines().map(str::trim).filter(|v| !v.is_empty())
}

/// The shortest run of events from `start` to `goal` through a workflow table given
/// as `(event, from states, to)`, never using `avoid`.
fn shortest<S: Copy + Eq, E: Copy + Eq>(
    start: S,
    goal: S,
    edges: &[(E, &[S], S)],
    avoid: &[E],
) -> Option<Vec<E>> {
    let mut queue = VecDeque::from([(start, Vec::new())]);
    let mut seen = vec![start];
    while let Some((state, path)) = queue.pop_front() {
        if state == goal {
            return Some(path);
        }
        for (event, from, to) in edges {
            if avoid.contains(event) || !from.contains(&state) || seen.contains(to) {
                continue;
            }
            seen.push(*to);
            let mut next = path.clone();
            next.push(*event);
            queue.push_back((*to, next));
        }
    }
    None
}

/// The events after filing that bring a consultation to `state`, read from the
/// workflow table: through a hearing when the record had one, and never
/// skipping the assignment a later state depends on.
pub fn consultation_path(state: State, had_hearing: bool) -> Vec<Event> {
    let edges: Vec<(Event, &[State], State)> = WORKFLOW
        .iter()
        .filter(|t| !t.from.is_empty())
        .map(|t| (t.event, t.from, t.to))
        .collect();
    let route = |from: State, avoid: &[Event]| shortest(from, state, &edges, avoid);
    let direct = if had_hearing && state != State::Received {
        shortest(State::Received, State::Hearing, &edges, &[Event::Withdraw]).and_then(
            |mut first| {
                first.extend(route(State::Hearing, &[Event::ScheduleHearing])?);
                Some(first)
            },
        )
    } else {
        None
    };
    direct
        .or_else(|| route(State::Received, &[Event::ScheduleHearing]))
        .unwrap_or_default()
}

/// The events after asking that bring an inquiry to `state`, read from the
/// inquiry table.
pub fn inquiry_path(state: InquiryState) -> Vec<InquiryEvent> {
    let edges: Vec<(InquiryEvent, &[InquiryState], InquiryState)> = INQUIRY_WORKFLOW
        .iter()
        .filter(|t| !t.from.is_empty())
        .filter_map(|t| Some((t.event, t.from, t.to?)))
        .collect();
    shortest(InquiryState::Open, state, &edges, &[]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo() -> Tz {
        chrono_tz::Asia::Tokyo
    }

    fn utc(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn kintone_dates_are_read_in_each_of_their_spellings() {
        let day = NaiveDate::from_ymd_opt(2023, 4, 5);
        for text in [
            "2023-04-05",
            "2023/4/5",
            "2023/04/05",
            " 2023-4-05 ",
            "2023年4月5日",
        ] {
            assert_eq!(parse_date(text), day, "{text}");
        }
        for text in [
            "2023-13-01",
            "2023/2/30",
            "23/4/5",
            "2023-04",
            "",
            "明日",
            "2023/04/05/1",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }

    #[test]
    fn local_date_times_are_tokyo_time_and_iso_times_keep_their_offset() {
        let zone = tokyo();
        let want = Some(utc("2023-04-05 00:30:00"));
        for text in [
            "2023-04-05 09:30",
            "2023/04/05 9:30",
            "2023/4/5 09:30:00",
            "2023-04-05T00:30:00Z",
            "2023-04-05T09:30:00+09:00",
        ] {
            assert_eq!(parse_datetime(text, &zone), want, "{text}");
        }
        assert_eq!(
            parse_datetime("2023-04-05", &zone),
            Some(utc("2023-04-04 15:00:00")),
            "a date alone is the start of that day in Tokyo"
        );
        for text in [
            "2023-04-05 25:00",
            "2023/04/05 9時30分",
            "2023-04-05 9",
            "yesterday",
        ] {
            assert_eq!(parse_datetime(text, &zone), None, "{text}");
        }
    }

    #[test]
    fn record_and_own_numbers_are_read_for_their_sequence() {
        assert_eq!(record_seq("123"), Some(123));
        assert_eq!(record_seq("DIGICON-0042"), Some(42));
        assert_eq!(record_seq("abc"), None);
        assert_eq!(number_seq("DX-2023-0012", "DX"), Some((2023, 12)));
        assert_eq!(number_seq("HD-2024-00123", "HD"), Some((2024, 123)));
        assert_eq!(number_seq("DX-2023-12a", "DX"), None);
        assert_eq!(number_seq("R5-0012", "DX"), None);
    }

    #[test]
    fn names_compare_without_spaces_and_cells_hold_one_value_a_line() {
        assert_eq!(name_key("田中　太郎 "), name_key("田中 太郎"));
        assert_eq!(
            values("鈴木\n 高橋 \n\n").collect::<Vec<_>>(),
            ["鈴木", "高橋"]
        );
    }

    #[test]
    fn the_path_to_each_state_follows_the_workflow_table() {
        use Event::*;
        assert!(consultation_path(State::Received, true).is_empty());
        assert_eq!(consultation_path(State::Hearing, true), [ScheduleHearing]);
        assert_eq!(consultation_path(State::Assigned, false), [Assign]);
        assert_eq!(
            consultation_path(State::Waiting, true),
            [ScheduleHearing, Assign, RequestInfo]
        );
        assert_eq!(
            consultation_path(State::Closed, false),
            [Assign, Resolve, Close]
        );
        assert_eq!(
            consultation_path(State::Closed, true),
            [ScheduleHearing, Assign, Resolve, Close]
        );
        assert_eq!(consultation_path(State::Withdrawn, false), [Withdraw]);
        assert_eq!(
            consultation_path(State::Withdrawn, true),
            [ScheduleHearing, Withdraw]
        );
        // Every step is allowed by the table from where the previous one left it.
        for state in State::ALL {
            let mut at = State::Received;
            for event in consultation_path(*state, true) {
                let row = crate::domain::workflow::transition(event);
                assert!(row.from.contains(&at), "{event:?} from {at:?}");
                at = row.to;
            }
            assert_eq!(at, *state);
        }
    }

    #[test]
    fn the_path_of_an_inquiry_follows_its_table() {
        use InquiryEvent::*;
        assert!(inquiry_path(InquiryState::Open).is_empty());
        assert_eq!(inquiry_path(InquiryState::Waiting), [AskBack]);
        assert_eq!(inquiry_path(InquiryState::Closed), [Answer, Close]);
        assert_eq!(inquiry_path(InquiryState::Escalated), [Escalate]);
    }
}
