//! The consultation list and the staff queue views: the caller's filters resolved
//! to ids, their scope always applied in SQL, one page at a time.

use std::collections::HashMap;

use super::super::{Caller, Error, Result};
use crate::db::consultations::{self, AssigneeFilter, Consultation, Cursor, ListQuery};
use crate::db::{self, departments, search, users, DbConn};
use crate::domain::queue::{Holder, Sort, View};
use crate::domain::{Category, Priority, State};

/// Whose consultations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Me,
    Nobody,
    User(i64),
}

/// A department named by id or by code; the list includes the units below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepartmentRef {
    Id(i64),
    Code(String),
}

/// The list's filters as the caller gave them, parsed.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub states: Vec<State>,
    pub assignee: Option<Assignee>,
    pub department: Option<DepartmentRef>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub overdue: bool,
    pub text: Option<String>,
    pub fiscal_year: Option<i32>,
    pub sort: Option<Sort>,
    /// 1 to 200.
    pub limit: i64,
    /// Where the previous page ended, and the order it was read in.
    pub after: Option<(Sort, Cursor)>,
    /// A staff queue view; other roles have none, and it is ignored for them.
    pub view: Option<View>,
}

/// One page of the list.
#[derive(Debug)]
pub struct Listed {
    pub items: Vec<Consultation>,
    pub next: Option<Cursor>,
    /// The order the page was read in (the next cursor belongs to it).
    pub sort: Sort,
    /// The view applied: for staff the one asked for or `All`; `None` for others.
    pub view: Option<View>,
}

/// A page of consultations the caller may see.
pub fn list(conn: &mut DbConn, caller: &Caller, filter: ListFilter) -> Result<Listed> {
    let (query, view) = query_for(conn, caller, filter)?;
    let (items, next) = consultations::list(conn, &query)?;
    Ok(Listed {
        items,
        next,
        sort: query.sort,
        view,
    })
}

/// A page of the list with the names of the assignees on it, for the queue page.
pub fn queue(
    conn: &mut DbConn,
    caller: &Caller,
    filter: ListFilter,
) -> Result<(Listed, HashMap<i64, String>)> {
    let listed = list(conn, caller, filter)?;
    let names = users::names(conn, listed.items.iter().filter_map(|c| c.assignee_id))?;
    Ok((listed, names))
}

/// The caller's list query: their scope, a view's defaults under what they named,
/// and the filters resolved to ids.
pub(crate) fn query_for(
    conn: &mut DbConn,
    caller: &Caller,
    filter: ListFilter,
) -> Result<(ListQuery, Option<View>)> {
    let view = caller
        .role
        .is_staff()
        .then(|| filter.view.unwrap_or(View::All));
    let defaults = view.map(View::defaults);
    let states = match (&filter.states[..], defaults) {
        ([], Some(d)) => d.states.to_vec(),
        _ => filter.states,
    };
    let holder = defaults.and_then(|d| d.holder).map(|h| match h {
        Holder::Nobody => Assignee::Nobody,
        Holder::Caller => Assignee::Me,
    });
    let assignee = holder.or(filter.assignee).map(|a| match a {
        Assignee::Me => AssigneeFilter::User(caller.id),
        Assignee::Nobody => AssigneeFilter::Nobody,
        Assignee::User(id) => AssigneeFilter::User(id),
    });
    let text = filter.text.filter(|t| !t.trim().is_empty());
    let sort = filter
        .sort
        .or_else(|| defaults.map(|d| d.sort).filter(|s| *s != Sort::CreatedDesc))
        .unwrap_or(if text.is_some() {
            Sort::Relevance
        } else {
            Sort::CreatedDesc
        });
    let after = match filter.after {
        Some((cursor_sort, cursor)) if cursor_sort == sort => Some(cursor),
        Some(_) => return Err(Error::bad_parameter("cursor", "…")),
        None => None,
    };
    let departments = match &filter.department {
        None => None,
        Some(DepartmentRef::Id(id)) => Some(departments::subtree_ids(conn, *id)?),
        Some(DepartmentRef::Code(code)) => match departments::find_by_code(conn, code)? {
            Some(d) => Some(departments::subtree_ids(conn, d.id)?),
            None => Some(vec![]),
        },
    };
    let overdue = filter.overdue || defaults.is_some_and(|d| d.overdue);
    let query = ListQuery {
        scope: caller.scope.clone(),
        states,
        assignee,
        departments,
        category: filter.category,
        priority: filter.priority,
        overdue_at: overdue.then(db::now),
        text,
        include_staff_text: caller.role.is_staff(),
        fiscal_year: filter.fiscal_year,
        sort,
        limit: filter.limit,
        after,
    };
    Ok((query, view))
}

/// Up to five open or resolved consultations the caller may see that look like a
/// draft (or like another consultation, left out), best first.
pub fn similar(
    conn: &mut DbConn,
    caller: &Caller,
    text: &str,
    exclude: Option<i64>,
) -> Result<Vec<Consultation>> {
    let ids = search::similar(conn, text, &caller.scope, exclude, 5)?;
    let mut items = vec![];
    for id in ids {
        if let Some(c) = consultations::find_visible(conn, id, &caller.scope)? {
            items.push(c);
        }
    }
    Ok(items)
}
