//! Service levels (DESIGN.md "SLA"): the hearing is due some business days after
//! filing and the resolution some business days after assignment, per priority.
//! The clock stops while the consultation waits on the requester. `due_at` is the
//! due time running now, which the queue sorts by and the worker watches.

use chrono::{DateTime, Duration, Utc};

use super::calendar::BusinessCalendar;
use super::workflow::Event;
use super::{Priority, State};

/// Business days allowed, per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaysByPriority {
    pub low: i64,
    pub normal: i64,
    pub high: i64,
    pub urgent: i64,
}

impl DaysByPriority {
    pub fn get(&self, priority: Priority) -> i64 {
        match priority {
            Priority::Low => self.low,
            Priority::Normal => self.normal,
            Priority::High => self.high,
            Priority::Urgent => self.urgent,
        }
    }

    /// Parses `urgent=1,high=2,normal=3,low=5`; unnamed priorities keep `self`'s value.
    pub fn parse(&self, text: &str) -> Result<DaysByPriority, String> {
        let mut days = *self;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected priority=days, got {part:?}"))?;
            let value: i64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| format!("expected a whole number of days, got {value:?}"))?;
            match Priority::parse(name.trim()) {
                Some(Priority::Low) => days.low = value,
                Some(Priority::Normal) => days.normal = value,
                Some(Priority::High) => days.high = value,
                Some(Priority::Urgent) => days.urgent = value,
                None => return Err(format!("unknown priority {name:?}")),
            }
        }
        Ok(days)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SlaPolicy {
    pub hearing: DaysByPriority,
    pub resolution: DaysByPriority,
    /// How long before a due time the reminder goes out.
    pub remind_before: Duration,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            hearing: DaysByPriority {
                low: 5,
                normal: 3,
                high: 2,
                urgent: 1,
            },
            resolution: DaysByPriority {
                low: 20,
                normal: 10,
                high: 5,
                urgent: 3,
            },
            remind_before: Duration::hours(24),
        }
    }
}

/// The SLA columns of a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaClock {
    pub hearing_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// The due time running now.
    pub due_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
}

/// One step of the workflow, as the clock sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub event: Event,
    pub from: State,
    pub to: State,
}

/// Which due time is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    Hearing,
    Resolution,
}

impl DueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DueKind::Hearing => "hearing",
            DueKind::Resolution => "resolution",
        }
    }

    /// The due time running in a state, if any.
    pub fn running_in(state: State) -> Option<DueKind> {
        match state {
            State::Received | State::Hearing => Some(DueKind::Hearing),
            State::Assigned => Some(DueKind::Resolution),
            _ => None,
        }
    }
}

impl SlaPolicy {
    /// The clock of a consultation filed now.
    pub fn on_file(
        &self,
        cal: &BusinessCalendar,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> SlaClock {
        let hearing = cal.add_days(now, self.hearing.get(priority));
        SlaClock {
            hearing_due_at: Some(hearing),
            resolution_due_at: None,
            due_at: Some(hearing),
            paused_at: None,
        }
    }

    /// The clock after an event moved a consultation from `from` to `to`.
    pub fn on_event(
        &self,
        cal: &BusinessCalendar,
        clock: SlaClock,
        priority: Priority,
        step: Step,
        now: DateTime<Utc>,
    ) -> SlaClock {
        let mut next = clock;
        match (step.event, step.from) {
            // The hearing is held: the resolution clock starts.
            (Event::Assign, State::Received | State::Hearing) | (Event::Reopen, _) => {
                next.resolution_due_at = Some(cal.add_days(now, self.resolution.get(priority)));
            }
            (Event::RequestInfo, _) => next.paused_at = Some(now),
            (Event::ProvideInfo, _) => {
                if let (Some(due), Some(paused)) = (clock.resolution_due_at, clock.paused_at) {
                    next.resolution_due_at = Some(cal.add(due, cal.between(paused, now)));
                }
                next.paused_at = None;
            }
            _ => {}
        }
        next.due_at = match DueKind::running_in(step.to) {
            Some(DueKind::Hearing) => next.hearing_due_at,
            Some(DueKind::Resolution) => next.resolution_due_at,
            None => None,
        };
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn cal() -> BusinessCalendar {
        BusinessCalendar::new(chrono_tz::Asia::Tokyo)
    }

    #[test]
    fn the_hearing_is_due_three_business_days_after_filing_by_default() {
        let clock = SlaPolicy::default().on_file(
            &cal(),
            Priority::Normal,
            tokyo("2025-06-06T10:00:00+09:00"),
        );
        assert_eq!(
            clock.hearing_due_at,
            Some(tokyo("2025-06-11T10:00:00+09:00"))
        );
        assert_eq!(clock.due_at, clock.hearing_due_at);
        let urgent = SlaPolicy::default().on_file(
            &cal(),
            Priority::Urgent,
            tokyo("2025-06-06T10:00:00+09:00"),
        );
        assert_eq!(
            urgent.hearing_due_at,
            Some(tokyo("2025-06-09T10:00:00+09:00"))
        );
    }

    #[test]
    fn the_resolution_clock_starts_at_assignment_and_pauses_while_waiting() {
        let policy = SlaPolicy::default();
        let filed = policy.on_file(&cal(), Priority::Normal, tokyo("2025-06-02T09:00:00+09:00"));
        let assigned = policy.on_event(
            &cal(),
            filed,
            Priority::Normal,
            Step {
                event: Event::Assign,
                from: State::Hearing,
                to: State::Assigned,
            },
            tokyo("2025-06-03T09:00:00+09:00"),
        );
        // Ten business days from Tue Jun 3: Jun 17.
        assert_eq!(
            assigned.resolution_due_at,
            Some(tokyo("2025-06-17T09:00:00+09:00"))
        );
        assert_eq!(assigned.due_at, assigned.resolution_due_at);
        // Waiting from Wed Jun 4 09:00 to Mon Jun 9 09:00 is three business days.
        let waiting = policy.on_event(
            &cal(),
            assigned,
            Priority::Normal,
            Step {
                event: Event::RequestInfo,
                from: State::Assigned,
                to: State::Waiting,
            },
            tokyo("2025-06-04T09:00:00+09:00"),
        );
        assert_eq!(waiting.due_at, None, "nothing runs while waiting");
        let back = policy.on_event(
            &cal(),
            waiting,
            Priority::Normal,
            Step {
                event: Event::ProvideInfo,
                from: State::Waiting,
                to: State::Assigned,
            },
            tokyo("2025-06-09T09:00:00+09:00"),
        );
        assert_eq!(
            back.resolution_due_at,
            Some(tokyo("2025-06-20T09:00:00+09:00"))
        );
        assert_eq!(back.due_at, back.resolution_due_at);
        assert_eq!(back.paused_at, None);
        // Handing over to another SE does not restart the clock; resolving stops it.
        let handed = policy.on_event(
            &cal(),
            back,
            Priority::Normal,
            Step {
                event: Event::Assign,
                from: State::Assigned,
                to: State::Assigned,
            },
            tokyo("2025-06-10T09:00:00+09:00"),
        );
        assert_eq!(handed.resolution_due_at, back.resolution_due_at);
        let resolved = policy.on_event(
            &cal(),
            handed,
            Priority::Normal,
            Step {
                event: Event::Resolve,
                from: State::Assigned,
                to: State::Resolved,
            },
            tokyo("2025-06-11T09:00:00+09:00"),
        );
        assert_eq!(resolved.due_at, None);
    }

    #[test]
    fn days_per_priority_are_configurable() {
        let days = SlaPolicy::default()
            .hearing
            .parse("urgent=0, low=7")
            .expect("valid");
        assert_eq!(
            (days.urgent, days.high, days.normal, days.low),
            (0, 2, 3, 7)
        );
        assert!(SlaPolicy::default().hearing.parse("asap=1").is_err());
        assert!(SlaPolicy::default().hearing.parse("high=-1").is_err());
    }
}
