//! The staff queue's views and the orders a list can be sorted in. A view is a
//! named set of default filters and a default order; explicit filters win over a
//! view's defaults.

use super::consultation::wire_enum;
use super::workflow::State;

wire_enum!(
    /// A staff queue view.
    View {
        Unassigned => "unassigned",
        Mine => "mine",
        Waiting => "waiting",
        Overdue => "overdue",
        All => "all",
    }
);

wire_enum!(
    /// Orders of the consultation list: oldest first; newest first (the default);
    /// nearest due time first, those without one last; most recently changed
    /// first; and for text searches, title matches first, then newest filed first.
    Sort {
        Created => "created",
        CreatedDesc => "-created",
        Due => "due",
        Updated => "updated",
        Relevance => "relevance",
    }
);

/// Whose consultations a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Nobody's yet.
    Nobody,
    /// The caller's.
    Caller,
}

/// What a view filters by and how it sorts when the caller does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewDefaults {
    /// States shown unless the caller names some.
    pub states: &'static [State],
    pub holder: Option<Holder>,
    pub overdue: bool,
    pub sort: Sort,
}

impl View {
    pub fn defaults(self) -> ViewDefaults {
        let due = |states, holder, overdue| ViewDefaults {
            states,
            holder,
            overdue,
            sort: Sort::Due,
        };
        match self {
            // Work waiting for someone to take it, the most urgent first.
            View::Unassigned => due(
                &[State::Received, State::Hearing],
                Some(Holder::Nobody),
                false,
            ),
            // Everything on the caller's desk that is not finished.
            View::Mine => due(
                &[
                    State::Hearing,
                    State::Assigned,
                    State::Waiting,
                    State::Resolved,
                ],
                Some(Holder::Caller),
                false,
            ),
            View::Waiting => due(&[State::Waiting], None, false),
            View::Overdue => due(&[], None, true),
            View::All => ViewDefaults {
                states: &[],
                holder: None,
                overdue: false,
                sort: Sort::CreatedDesc,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_but_all_puts_the_nearest_due_time_first() {
        for view in View::ALL {
            let expected = if *view == View::All {
                Sort::CreatedDesc
            } else {
                Sort::Due
            };
            assert_eq!(view.defaults().sort, expected, "{view:?}");
        }
    }

    #[test]
    fn the_unassigned_view_shows_new_work_without_an_assignee() {
        let d = View::Unassigned.defaults();
        assert_eq!(d.holder, Some(Holder::Nobody));
        assert_eq!(d.states, &[State::Received, State::Hearing]);
    }
}
