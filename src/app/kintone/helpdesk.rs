//! The helpdesk app: each kintone record becomes an inquiry with its original
//! number, dates, state and SE, the timeline events of the inquiry table that
//! lead to its state (marked as imported), its history table as comments, and
//! its rollup counts.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeZone};
use serde_json::json;

use super::read::Record as KintoneRecord;
use super::{check_numbers, marked, Counts, Ctx, ImportError};
use crate::db::imports::{
    self, InquiryCommentRow, InquiryEventRow, InquiryRow, InquiryRows, RecordKey,
};
use crate::db::{stats, DbConn};
use crate::domain::consultation::{TEXT_MAX_CHARS, TITLE_MAX_CHARS};
use crate::domain::fiscal::fiscal_year;
use crate::domain::inquiry::{
    inquiry_number, inquiry_transition, Channel, InquiryEvent, InquiryState, Topic,
    QUESTION_MAX_CHARS,
};
use crate::domain::inquiry_rollup::{inquiry_facts, CountedInquiry};
use crate::domain::kintone::{inquiry_path, number_seq, record_seq};
use crate::domain::rollup::Facts;
use crate::domain::Priority;

pub(super) const COLUMNS: &[(&str, bool)] = &[
    ("record_number", true),
    ("number", false),
    ("created_at", true),
    ("updated_at", false),
    ("asker", true),
    ("subject", true),
    ("question", true),
    ("topic", false),
    ("channel", false),
    ("priority", false),
    ("state", true),
    ("assignee", false),
    ("answer", false),
    ("answered_at", false),
    ("closed_at", false),
    ("consultation", false),
];

struct Planned {
    record_number: String,
    number_at: (u64, String),
    row: InquiryRow,
    events: Vec<InquiryEventRow>,
    comments: Vec<InquiryCommentRow>,
    facts: Facts,
}

pub(super) fn run(conn: &mut DbConn, ctx: &mut Ctx, dry_run: bool) -> Result<Counts, ImportError> {
    let existing = imports::imported(conn, "helpdesk")?;
    let consultations = imports::imported(conn, "digicon")?;
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
        if let Some(p) = plan(ctx, record, record_number, &consultations) {
            planned.push(p);
        }
    }
    let numbers = planned
        .iter()
        .map(|p| (p.row.number.as_str(), p.number_at.0, p.number_at.1.as_str()));
    check_numbers(conn, ctx, numbers.collect(), true)?;
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

fn plan<'a>(
    ctx: &mut Ctx<'a>,
    record: &'a KintoneRecord,
    record_number: &str,
    consultations: &HashMap<String, i64>,
) -> Option<Planned> {
    let before = ctx.problems.len();
    let mapping = ctx.mapping;
    let cell = ctx.required(record, "created_at");
    let created = ctx.datetime(cell);
    let created = ctx.not_future(created, record, "created_at");
    let cell = ctx.required(record, "asker");
    let asker = ctx.user(cell).map(|u| (u.id, u.department_id));
    let cell = ctx.required(record, "subject");
    let subject = ctx.text(cell, TITLE_MAX_CHARS);
    let cell = ctx.required(record, "question");
    let question = ctx.text(cell, QUESTION_MAX_CHARS);
    let cell = ctx.cell(record, "topic");
    let default = mapping.defaults.topic.as_deref().or(Some("other"));
    let topic = ctx.value(cell, &mapping.topics, "topics", Topic::parse, default);
    let cell = ctx.cell(record, "channel");
    let default = mapping.defaults.channel.as_deref().or(Some("web"));
    let channel = ctx.value(cell, &mapping.channels, "channels", Channel::parse, default);
    let cell = ctx.cell(record, "priority");
    let default = mapping.defaults.priority.as_deref().or(Some("normal"));
    let priority = ctx.value(
        cell,
        &mapping.priorities,
        "priorities",
        Priority::parse,
        default,
    );
    let state_cell = ctx.required(record, "state");
    let state = ctx.value(
        state_cell,
        &mapping.states,
        "states",
        InquiryState::parse,
        None,
    );
    let cell = ctx.cell(record, "answer");
    let answer = ctx.text(cell, TEXT_MAX_CHARS);
    let cell = ctx.cell(record, "answered_at");
    let answered_at = ctx.datetime(cell);
    let answered_at = ctx.not_future(answered_at, record, "answered_at");
    let cell = ctx.cell(record, "closed_at");
    let closed_at = ctx.datetime(cell);
    let closed_at = ctx.not_future(closed_at, record, "closed_at");
    let cell = ctx.cell(record, "updated_at");
    let updated = ctx.datetime(cell);
    let updated = ctx.not_future(updated, record, "updated_at");
    let notes = ctx.history(record);
    // The consultation an escalated inquiry became, by its Digicon app record number.
    let consultation = ctx.cell(record, "consultation").and_then(|cell| {
        let found = consultations.get(cell.value).copied();
        if found.is_none() {
            ctx.problem(
                cell.line,
                cell.field,
                format!(
                    "no consultation was imported from Digicon app record {} (import that app first)",
                    cell.value
                ),
            );
        }
        found
    });

    let (state, state_cell) = (state?, state_cell?);
    let path = inquiry_path(state);
    let answers = path
        .iter()
        .any(|e| matches!(e, InquiryEvent::Answer | InquiryEvent::AskBack));
    let assignee = if answers {
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
                    "{:?} needs the SE who answered: a helpdesk user (or [defaults] assignee)",
                    state_cell.value
                ),
            );
        }
        assignee
    } else {
        ctx.staff(record, "assignee")
    };
    if ctx.problems.len() > before {
        return None;
    }
    let (created, (asker, asker_department)) = (created?, asker?);
    let (subject, question, topic, channel, priority) =
        (subject?, question?, topic?, channel?, priority?);

    let fy = fiscal_year(ctx.zone.from_utc_datetime(&created).date_naive());
    let number = match ctx.cell(record, "number") {
        Some(cell) => (cell.value.to_string(), (cell.line, cell.field.to_string())),
        None => {
            let field = ctx.field_name("record_number").to_string();
            match record_seq(record_number) {
                Some(seq) => (inquiry_number(fy, seq), (record.line(), field)),
                None => {
                    ctx.problem(
                        record.line(),
                        &field,
                        "has no digits to number the inquiry by (map [columns] number)",
                    );
                    return None;
                }
            }
        }
    };
    let mark = ctx.imported(record_number);
    let mut events = vec![InquiryEventRow {
        inquiry_id: 0,
        event: InquiryEvent::Ask.as_str(),
        actor_id: Some(asker),
        from_state: None,
        to_state: InquiryState::Open.as_str(),
        payload: marked(
            json!({"subject": subject, "topic": topic, "channel": channel,
                   "asker_id": asker, "filed_by": asker}),
            &mark,
        ),
        version: 1,
        created_at: created,
    }];
    let mut at = created;
    let mut current = InquiryState::Open;
    let mut first_answered: Option<NaiveDateTime> = None;
    let mut last_answered: Option<NaiveDateTime> = None;
    let mut closed: Option<NaiveDateTime> = None;
    for event in path {
        let (when, actor, payload) = match event {
            InquiryEvent::Answer => (
                answered_at.or(closed_at).or(updated).unwrap_or(at),
                assignee,
                json!({"answer": answer.clone().unwrap_or_default()}),
            ),
            InquiryEvent::AskBack => (updated.unwrap_or(at), assignee, json!({"message": ""})),
            InquiryEvent::Close => (
                closed_at.or(updated).unwrap_or(at),
                Some(asker),
                json!({"helped": null}),
            ),
            InquiryEvent::Escalate => (
                closed_at.or(updated).unwrap_or(at),
                assignee,
                json!({"consultation_id": consultation}),
            ),
            InquiryEvent::Ask | InquiryEvent::Take | InquiryEvent::Reply => continue,
        };
        at = at.max(when.min(ctx.now));
        match event {
            InquiryEvent::Answer => {
                first_answered.get_or_insert(at);
                last_answered = Some(at);
            }
            InquiryEvent::AskBack => {
                first_answered.get_or_insert(at);
            }
            _ => closed = Some(at),
        }
        let to = inquiry_transition(event).to.unwrap_or(current);
        events.push(InquiryEventRow {
            inquiry_id: 0,
            event: event.as_str(),
            actor_id: actor,
            from_state: Some(current.as_str()),
            to_state: to.as_str(),
            payload: marked(payload, &mark),
            version: events.len() as i32 + 1,
            created_at: at,
        });
        current = to;
    }
    let internal = mapping.history.as_ref().is_some_and(|h| h.internal);
    let comments = notes
        .into_iter()
        .map(|(at, author_id, body)| InquiryCommentRow {
            inquiry_id: 0,
            author_id,
            body,
            internal,
            created_at: at,
        })
        .collect();
    let department = ctx.directory.division(asker_department);
    let row = InquiryRow {
        id: 0,
        number: number.0,
        fiscal_year: fy,
        subject,
        question,
        topic: topic.as_str(),
        channel: channel.as_str(),
        priority: priority.as_str(),
        department_id: department,
        asker_id: asker,
        filed_by: asker,
        state: current.as_str(),
        assignee_id: assignee,
        answer: last_answered.and(answer),
        version: events.len() as i32,
        created_at: created,
        updated_at: updated.map_or(at, |u| u.max(at)),
        first_answered_at: first_answered,
        answered_at: last_answered,
        closed_at: closed,
        consultation_id: consultation.filter(|_| current == InquiryState::Escalated),
    };
    let facts = inquiry_facts(
        &CountedInquiry {
            division_id: department,
            fiscal_year: fy,
            created_at: created,
            topic,
            channel,
            state: current,
            assignee_id: assignee,
            first_answered_at: first_answered,
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

fn write(conn: &mut DbConn, ctx: &Ctx, planned: Vec<Planned>) -> Result<(), ImportError> {
    let ids = imports::reserve_ids(conn, "inquiries", planned.len())?;
    let mut rows = InquiryRows::default();
    let mut keys = Vec::with_capacity(planned.len());
    let mut facts = Facts::default();
    let mut highest: HashMap<i32, i64> = HashMap::new();
    for (mut p, id) in planned.into_iter().zip(ids) {
        p.row.id = id;
        if let Some((year, seq)) = number_seq(&p.row.number, "HD") {
            let top = highest.entry(year).or_default();
            *top = (*top).max(seq);
        }
        facts.merge(p.facts);
        rows.events
            .extend(p.events.into_iter().map(|e| InquiryEventRow {
                inquiry_id: id,
                ..e
            }));
        rows.comments
            .extend(p.comments.into_iter().map(|c| InquiryCommentRow {
                inquiry_id: id,
                ..c
            }));
        keys.push(RecordKey {
            app: "helpdesk",
            record_number: p.record_number,
            target_id: id,
            imported_at: ctx.now,
        });
        rows.inquiries.push(p.row);
    }
    imports::insert_inquiries(conn, &rows)?;
    stats::add(conn, &facts)?;
    imports::advance_counters(conn, &highest, true)?;
    imports::remember(conn, &keys)?;
    Ok(())
}
