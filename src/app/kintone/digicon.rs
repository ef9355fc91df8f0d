//! The Digicon app: each kintone record becomes a consultation with its original
//! number, dates, state and assignee, the timeline events that lead to its state
//! (through the workflow table, marked as imported), its history table as
//! comments, its rollup counts and its search entry.

use std::collections::HashMap;

use chrono::TimeZone;

use super::read::Record as KintoneRecord;
use super::{check_numbers, marked, Counts, Ctx, ImportError};
use crate::db::imports::{
    self, CommentRow, ConsultationRow, ConsultationRows, EventRow, RecordKey,
};
use crate::db::{search, stats, DbConn};
use crate::domain::consultation::{
    BODY_MAX_CHARS, CONTACT_MAX_CHARS, PLACE_MAX_CHARS, TEXT_MAX_CHARS, TITLE_MAX_CHARS,
};
use crate::domain::effects::{self, Record};
use crate::domain::fiscal::{consultation_number, fiscal_year};
use crate::domain::kintone::{consultation_path, number_seq, record_seq};
use crate::domain::rollup::{Counted, Facts};
use crate::domain::workflow::{transition, Payload};
use crate::domain::{Category, Event, Priority, State};

pub(super) const COLUMNS: &[(&str, bool)] = &[
    ("record_number", true),
    ("number", false),
    ("created_at", true),
    ("updated_at", false),
    ("requester", true),
    ("department", false),
    ("title", true),
    ("body", true),
    ("category", false),
    ("priority", false),
    ("desired_by", false),
    ("contact", false),
    ("state", true),
    ("assignee", false),
    ("hearing_at", false),
    ("hearing_place", false),
    ("resolution", false),
    ("resolved_at", false),
    ("closed_at", false),
];

/// One record, ready to write but for its id.
struct Planned {
    record_number: String,
    /// Where the number came from, for a problem about it.
    number_at: (u64, String),
    row: ConsultationRow,
    events: Vec<EventRow>,
    comments: Vec<CommentRow>,
    facts: Facts,
}

pub(super) fn run(conn: &mut DbConn, ctx: &mut Ctx, dry_run: bool) -> Result<Counts, ImportError> {
    let existing = imports::imported(conn, "digicon")?;
    let sheet = ctx.sheet;
    let mut seen = HashMap::new();
    let mut planned = Vec::new();
    let mut counts = Counts::default();
    for record in &sheet.records {
        let Some(record_number) = ctx.record_number(record, &mut seen) else {
            continue;
        };
        if existing.contains_key(record_number) {
            counts.skipped += 1;
            continue;
        }
        if let Some(p) = plan(ctx, record, record_number) {
            planned.push(p);
        }
    }
    let numbers = planned
        .iter()
        .map(|p| (p.row.number.as_str(), p.number_at.0, p.number_at.1.as_str()));
    check_numbers(conn, ctx, numbers.collect(), false)?;
    if !ctx.problems.is_empty() {
        return Err(ImportError::Problems(std::mem::take(&mut ctx.problems)));
    }
    counts.imported = planned.len();
    counts.events = planned.iter().map(|p| p.events.len()).sum();
    counts.comments = planned.iter().map(|p| p.comments.len()).sum();
    if !dry_run {
        write(conn, ctx, planned)?;
    }
    Ok(counts)
}

/// Reads one record; `None` when it has problems (recorded in `ctx`).
fn plan<'a>(ctx: &mut Ctx<'a>, record: &'a KintoneRecord, record_number: &str) -> Option<Planned> {
    let before = ctx.problems.len();
    let mapping = ctx.mapping;
    let cell = ctx.required(record, "created_at");
    let created = ctx.datetime(cell);
    let created = ctx.not_future(created, record, "created_at");
    let cell = ctx.required(record, "requester");
    let requester = ctx.user(cell).map(|u| (u.id, u.department_id));
    let department = match ctx.cell(record, "department") {
        Some(cell) => ctx.department(Some(cell)),
        None => requester.map(|(_, d)| d),
    };
    let cell = ctx.required(record, "title");
    let title = ctx.text(cell, TITLE_MAX_CHARS);
    let cell = ctx.required(record, "body");
    let body = ctx.text(cell, BODY_MAX_CHARS);
    let category = match (ctx.cell(record, "category"), &mapping.defaults.category) {
        (None, None) => {
            ctx.required(record, "category");
            None
        }
        (cell, default) => ctx.value(
            cell,
            &mapping.categories,
            "categories",
            Category::parse,
            default.as_deref(),
        ),
    };
    let cell = ctx.cell(record, "priority");
    let default = mapping.defaults.priority.as_deref().or(Some("normal"));
    let priority = ctx.value(
        cell,
        &mapping.priorities,
        "priorities",
        Priority::parse,
        default,
    );
    let cell = ctx.cell(record, "desired_by");
    let desired_by = ctx.date(cell);
    let cell = ctx.cell(record, "contact");
    let contact = ctx.text(cell, CONTACT_MAX_CHARS);
    let state_cell = ctx.required(record, "state");
    let state = ctx.value(state_cell, &mapping.states, "states", State::parse, None);
    let cell = ctx.cell(record, "hearing_at");
    let hearing_at = ctx.datetime(cell);
    let cell = ctx.cell(record, "hearing_place");
    let hearing_place = ctx.text(cell, PLACE_MAX_CHARS);
    let cell = ctx.cell(record, "resolution");
    let resolution = ctx.text(cell, TEXT_MAX_CHARS);
    let cell = ctx.cell(record, "resolved_at");
    let resolved_at = ctx.datetime(cell);
    let resolved_at = ctx.not_future(resolved_at, record, "resolved_at");
    let cell = ctx.cell(record, "closed_at");
    let closed_at = ctx.datetime(cell);
    let closed_at = ctx.not_future(closed_at, record, "closed_at");
    let cell = ctx.cell(record, "updated_at");
    let updated = ctx.datetime(cell);
    let updated = ctx.not_future(updated, record, "updated_at");
    let notes = ctx.history(record);

    let state = state?;
    let state_cell = state_cell?;
    if state == State::Hearing && hearing_at.is_none() {
        ctx.problem(
            state_cell.line,
            state_cell.field,
            format!(
                "{:?} is a hearing, but {} gives no hearing time",
                state_cell.value,
                ctx.field_name("hearing_at")
            ),
        );
    }
    let path = consultation_path(state, hearing_at.is_some());
    let assignee = if path.contains(&Event::Assign) {
        let known = ctx.problems.len();
        let assignee = ctx.staff(record, "assignee");
        if assignee.is_none() && ctx.problems.len() == known {
            let field = ctx.field_name("assignee");
            ctx.problem(
                state_cell.line,
                if field.is_empty() {
                    state_cell.field
                } else {
                    field
                },
                format!(
                    "{:?} needs an assignee: a helpdesk or DX office user (or [defaults] assignee)",
                    state_cell.value
                ),
            );
        }
        assignee
    } else {
        None
    };
    if ctx.problems.len() > before {
        return None;
    }
    let (created, (requester, _), department) = (created?, requester?, department?);
    let (title, body, category, priority) = (title?, body?, category?, priority?);

    let fy = fiscal_year(ctx.zone.from_utc_datetime(&created).date_naive());
    let number = match ctx.cell(record, "number") {
        Some(cell) => (cell.value.to_string(), (cell.line, cell.field.to_string())),
        None => {
            let field = ctx.field_name("record_number").to_string();
            match record_seq(record_number) {
                Some(seq) => (consultation_number(fy, seq), (record.line(), field)),
                None => {
                    ctx.problem(
                        record.line(),
                        &field,
                        "has no digits to number the consultation by (map [columns] number)",
                    );
                    return None;
                }
            }
        }
    };

    let mark = ctx.imported(record_number);
    let mut columns = Record::default();
    let mut events = vec![EventRow {
        consultation_id: 0,
        event: Event::File.as_str(),
        actor_id: Some(requester),
        from_state: None,
        to_state: State::Received.as_str(),
        payload: marked(effects::filed(&number.0, &title), &mark),
        version: 1,
        created_at: created,
    }];
    let mut at = created;
    for event in path {
        let from = columns.state;
        // Each step at its own time where kintone kept one, never before the last.
        let (when, payload, actor) = match event {
            Event::ScheduleHearing => (
                at,
                Payload::ScheduleHearing {
                    hearing_at: hearing_at?.and_utc(),
                    place: hearing_place.clone().unwrap_or_default(),
                },
                None,
            ),
            Event::Assign => (
                hearing_at.filter(|_| from == State::Hearing).unwrap_or(at),
                Payload::Assign {
                    assignee_id: assignee?,
                    reason: None,
                },
                assignee,
            ),
            Event::RequestInfo => (
                updated.unwrap_or(at),
                Payload::RequestInfo {
                    message: String::new(),
                },
                assignee,
            ),
            Event::Resolve => (
                resolved_at.or(closed_at).or(updated).unwrap_or(at),
                Payload::Resolve {
                    resolution: resolution.clone().unwrap_or_default(),
                    system_id: None,
                    new_system: None,
                },
                assignee,
            ),
            Event::Close => (
                closed_at.or(updated).unwrap_or(at),
                Payload::Close { rating: None },
                Some(requester),
            ),
            Event::Withdraw => (
                closed_at.or(updated).unwrap_or(at),
                Payload::Withdraw {
                    reason: resolution.clone().unwrap_or_default(),
                    duplicate_of: None,
                },
                None,
            ),
            Event::File | Event::ProvideInfo | Event::Reopen => continue,
        };
        at = at.max(when.min(ctx.now));
        let to = transition(event).to;
        let payload = effects::apply(&mut columns, to, &payload, at);
        events.push(EventRow {
            consultation_id: 0,
            event: event.as_str(),
            actor_id: actor,
            from_state: Some(from.as_str()),
            to_state: to.as_str(),
            payload: marked(payload, &mark),
            version: events.len() as i32 + 1,
            created_at: at,
        });
    }
    let internal = mapping.history.as_ref().is_some_and(|h| h.internal);
    let comments = notes
        .into_iter()
        .map(|(at, author_id, body)| CommentRow {
            consultation_id: 0,
            author_id,
            body,
            internal,
            created_at: at,
        })
        .collect();
    let row = ConsultationRow {
        id: 0,
        number: number.0,
        fiscal_year: fy,
        title,
        body,
        category: category.as_str(),
        priority: priority.as_str(),
        department_id: department,
        requester_id: requester,
        contact,
        desired_by,
        state: columns.state.as_str(),
        assignee_id: columns.assignee_id,
        // As the events left them: a hearing kintone noted on a record still
        // received was never scheduled here.
        hearing_at: columns.hearing_at,
        hearing_place: columns.hearing_place.clone(),
        resolution: columns.resolution.clone(),
        duplicate_of: None,
        rating: columns.rating,
        version: events.len() as i32,
        created_at: created,
        updated_at: updated.map_or(at, |u| u.max(at)),
        first_response_at: columns.first_response_at,
        resolved_at: columns.resolved_at,
        closed_at: columns.closed_at,
        assigned_at: columns.assigned_at,
        reopen_count: 0,
        filed_by: None,
    };
    let facts = Facts::of(
        &Counted {
            division_id: ctx.directory.division(department),
            fiscal_year: fy,
            created_at: created,
            category,
            state: columns.state,
            assignee_id: columns.assignee_id,
            hearing_at: row.hearing_at,
            assigned_at: columns.assigned_at,
            resolved_at: columns.resolved_at,
            closed_at: columns.closed_at,
            resolution_due_at: None,
            rating: None,
            reopen_count: 0,
        },
        &ctx.zone,
    );
    Some(Planned {
        record_number: record_number.to_string(),
        number_at: number.1,
        row,
        events,
        comments,
        facts,
    })
}

/// Writes the planned consultations with everything that goes with them.
fn write(conn: &mut DbConn, ctx: &Ctx, planned: Vec<Planned>) -> Result<(), ImportError> {
    let ids = imports::reserve_ids(conn, "consultations", planned.len())?;
    let mut rows = ConsultationRows::default();
    let mut keys = Vec::with_capacity(planned.len());
    let mut facts = Facts::default();
    let mut highest: HashMap<i32, i64> = HashMap::new();
    for (mut p, id) in planned.into_iter().zip(ids) {
        p.row.id = id;
        if let Some((year, seq)) = number_seq(&p.row.number, "DX") {
            let top = highest.entry(year).or_default();
            *top = (*top).max(seq);
        }
        facts.merge(p.facts);
        rows.events.extend(p.events.into_iter().map(|e| EventRow {
            consultation_id: id,
            ..e
        }));
        rows.comments
            .extend(p.comments.into_iter().map(|c| CommentRow {
                consultation_id: id,
                ..c
            }));
        keys.push(RecordKey {
            app: "digicon",
            record_number: p.record_number,
            target_id: id,
            imported_at: ctx.now,
        });
        rows.consultations.push(p.row);
    }
    imports::insert_consultations(conn, &rows)?;
    index(conn, &rows)?;
    stats::add(conn, &facts)?;
    imports::advance_counters(conn, &highest, false)?;
    imports::remember(conn, &keys)?;
    Ok(())
}

/// The search entries of the new consultations: title; body, resolution and
/// public comments; internal notes apart (as `db::search::index` writes them).
fn index(conn: &mut DbConn, rows: &ConsultationRows) -> diesel::QueryResult<()> {
    let mut notes: HashMap<i64, Vec<&CommentRow>> = HashMap::new();
    for c in &rows.comments {
        notes.entry(c.consultation_id).or_default().push(c);
    }
    let none = Vec::new();
    let entries: Vec<search::NewEntry> = rows
        .consultations
        .iter()
        .map(|c| {
            let notes = notes.get(&c.id).unwrap_or(&none);
            let mut public = vec![c.body.as_str()];
            public.extend(c.resolution.as_deref());
            public.extend(
                notes
                    .iter()
                    .filter(|n| !n.internal)
                    .map(|n| n.body.as_str()),
            );
            search::NewEntry {
                id: c.id,
                title: &c.title,
                public,
                staff: notes
                    .iter()
                    .filter(|n| n.internal)
                    .map(|n| n.body.as_str())
                    .collect(),
            }
        })
        .collect();
    search::index_many(conn, &entries)
}
