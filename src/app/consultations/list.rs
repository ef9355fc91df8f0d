//! The consultation list and the staff queue views: the caller's filters resolved
//! to ids, their scope always applied in SQL, one page at a time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::super::{Caller, Error, Result};
use crate::db::consultations::{self, AssigneeFilter, Consultation, Cursor, ListQuery, Scope};
use crate::db::search::SIMILAR_PER_TERM;
use crate::db::{self, departments, search, users, DbConn};
use crate::domain::queue::{Holder, Sort, View};
use crate::domain::search::{draft_terms, snippet, Query, Similarity};
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

/// A page of the list as the queue page shows it.
#[derive(Debug)]
pub struct Queue {
    pub listed: Listed,
    /// Names of the assignees on the page.
    pub names: HashMap<i64, String>,
    /// For a text search, an excerpt around the match in each row's body or
    /// resolution: (before, match, after).
    pub snippets: HashMap<i64, (String, String, String)>,
}

/// A page of the list with what the queue page shows beside it. The excerpts are
/// made here, on the blocking pool, not on the server's request threads.
pub fn queue(conn: &mut DbConn, caller: &Caller, filter: ListFilter) -> Result<Queue> {
    let search = filter.text.as_deref().and_then(Query::parse);
    let listed = list(conn, caller, filter)?;
    let names = users::names(conn, listed.items.iter().filter_map(|c| c.assignee_id))?;
    let snippets = match &search {
        None => HashMap::new(),
        Some(query) => listed
            .items
            .iter()
            .filter_map(|c| {
                snippet(&c.body, query, SNIPPET_CONTEXT)
                    .or_else(|| {
                        c.resolution
                            .as_deref()
                            .and_then(|r| snippet(r, query, SNIPPET_CONTEXT))
                    })
                    .map(|s| (c.id, s))
            })
            .collect(),
    };
    Ok(Queue {
        listed,
        names,
        snippets,
    })
}

/// Characters of context either side of a search match.
const SNIPPET_CONTEXT: usize = 24;

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

/// How long a similar-search may look up bigrams before it answers with what it
/// has: the DX office opens a new consultation's page all day, and it must not
/// hold a connection for long however common the draft's words are.
pub const SIMILAR_BUDGET: Duration = Duration::from_millis(150);
/// Bigrams of a draft a similar-search looks up.
const SIMILAR_TERMS: usize = 32;
/// Suggestions shown.
const SIMILAR_SHOWN: usize = 5;

/// Consultations like a draft, or `Unavailable` when not one bigram could be
/// looked up within the budget.
#[derive(Debug)]
pub enum Suggestions {
    Found(Vec<Consultation>),
    Unavailable,
}

/// Up to five open or resolved consultations the caller may see that look like a
/// draft, best first. The work is bounded: at most 32 bigrams, each read newest
/// first up to a cap, within a time budget.
pub fn similar(
    conn: &mut DbConn,
    caller: &Caller,
    title: &str,
    body: &str,
    exclude: Option<i64>,
) -> Result<Suggestions> {
    Ok(
        match ranked(conn, &caller.scope, title, body, exclude, SIMILAR_SHOWN)? {
            Some(found) => Suggestions::Found(found),
            None => Suggestions::Unavailable,
        },
    )
}

/// Consultations found like one, kept for its page.
const SIMILAR_KEPT: usize = 10;

/// The consultations like an open one, for its page: found once (by the first
/// viewer, or by the worker after filing) and kept, so the DX office's every
/// visit reads a few rows instead of searching again. What the caller may not
/// see, or what was withdrawn since, is left out.
pub fn similar_to(conn: &mut DbConn, caller: &Caller, c: &Consultation) -> Result<Suggestions> {
    let ids = match search::cached_similar(conn, c.id)? {
        Some(ids) => ids,
        None => match find_and_keep(conn, c)? {
            Some(ids) => ids,
            None => return Ok(Suggestions::Unavailable),
        },
    };
    let mut found = consultations::open_or_resolved_among(conn, &ids, &caller.scope)?;
    found.sort_by_key(|f| ids.iter().position(|id| *id == f.id));
    found.truncate(SIMILAR_SHOWN);
    Ok(Suggestions::Found(found))
}

/// Looks for consultations like `c` in the whole desk and keeps their ids;
/// `None` when the budget ran out before anything could be looked up.
pub(crate) fn find_and_keep(conn: &mut DbConn, c: &Consultation) -> Result<Option<Vec<i64>>> {
    let Some(found) = ranked(
        conn,
        &Scope::All,
        &c.title,
        &c.body,
        Some(c.id),
        SIMILAR_KEPT,
    )?
    else {
        return Ok(None);
    };
    let ids: Vec<i64> = found.iter().map(|f| f.id).collect();
    search::cache_similar(conn, c.id, &ids, db::now())?;
    Ok(Some(ids))
}

/// Up to `wanted` open or resolved consultations within `scope` like a draft, best
/// first; `None` when not one bigram could be looked up within the budget.
fn ranked(
    conn: &mut DbConn,
    scope: &Scope,
    title: &str,
    body: &str,
    exclude: Option<i64>,
    wanted: usize,
) -> Result<Option<Vec<Consultation>>> {
    let started = Instant::now();
    let terms = draft_terms(title, body, SIMILAR_TERMS);
    let documents = search::documents(conn)?;
    let mut similarity = Similarity::default();
    let mut looked_up = 0;
    for (term, in_title) in &terms {
        if started.elapsed() > SIMILAR_BUDGET {
            break;
        }
        // A bigram the database gave up on is as good as common.
        let (postings, cut) = match search::postings(conn, term, scope, SIMILAR_PER_TERM)? {
            Some(postings) => {
                let cut = postings.len() as i64 >= SIMILAR_PER_TERM;
                (postings, cut)
            }
            None => (vec![], true),
        };
        similarity.add(&postings, cut, documents, *in_title);
        looked_up += 1;
    }
    if looked_up == 0 && !terms.is_empty() {
        return Ok(None);
    }
    let ranked: Vec<i64> = similarity
        .ranked()
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| Some(*id) != exclude)
        .collect();
    let mut found = vec![];
    for chunk in ranked.chunks(50) {
        let mut rows = consultations::open_or_resolved_among(conn, chunk, scope)?;
        // Back into the order of the ranking.
        rows.sort_by_key(|c| chunk.iter().position(|id| *id == c.id));
        found.extend(rows);
        if found.len() >= wanted {
            break;
        }
    }
    found.truncate(wanted);
    Ok(Some(found))
}
