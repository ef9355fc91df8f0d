//! The system ledger (システム管理台帳): each kintone record becomes a ledger entry
//! with its dates (the fiscal year it went into production is the one its
//! effects count in), a `register` history row marked as imported, and links to
//! the consultations that led to it, named by their Digicon app record numbers
//! (so the Digicon app is imported first).

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeZone};
use serde_json::json;

use super::read::Record as KintoneRecord;
use super::{marked, Cell, Counts, Ctx, ImportError};
use crate::db::imports::{self, RecordKey, SystemRow};
use crate::db::DbConn;
use crate::domain::consultation::{TEXT_MAX_CHARS, TITLE_MAX_CHARS};
use crate::domain::ledger::{BuiltBy, Phase, Platform, COST_MAX, HOURS_MAX, MANUAL_MAX_CHARS};

pub(super) const COLUMNS: &[(&str, bool)] = &[
    ("record_number", true),
    ("created_at", true),
    ("name", true),
    ("department", true),
    ("owner", true),
    ("platform", true),
    ("phase", true),
    ("built_by", false),
    ("workflow_before", false),
    ("workflow_after", false),
    ("hours_saved_per_year", false),
    ("cost_saved_per_year", false),
    ("holds_personal_data", false),
    ("manual_location", false),
    ("review_on", false),
    ("production_on", false),
    ("consultations", false),
    ("verified", false),
];

struct Planned {
    record_number: String,
    row: SystemRow,
    consultations: Vec<i64>,
}

pub(super) fn run(conn: &mut DbConn, ctx: &mut Ctx, dry_run: bool) -> Result<Counts, ImportError> {
    let existing = imports::imported(conn, "ledger")?;
    let consultations = imports::imported(conn, "digicon")?;
    let sheet = ctx.sheet;
    let mut seen = HashMap::new();
    let mut planned = Vec::new();
    let mut counts = Counts::default();
    // Which line links each consultation (and by which record number), so that
    // two entries cannot claim one.
    let mut claimed: HashMap<i64, (u64, String)> = HashMap::new();
    for record in &sheet.records {
        let Some(record_number) = ctx.record_number(record, &mut seen) else {
            continue;
        };
        if existing.contains_key(record_number) {
            counts.skipped += 1;
            continue;
        }
        let links = links(ctx, record, &consultations, &mut claimed);
        if let Some(p) = plan(ctx, record, record_number, links) {
            planned.push(p);
        }
    }
    let ids: Vec<i64> = claimed.keys().copied().collect();
    let linked = imports::linked_systems(conn, &ids)?;
    for (id, (line, number)) in &claimed {
        if let Some(system) = linked.get(id) {
            let field = ctx.field_name("consultations");
            ctx.problem(
                *line,
                field,
                format!("the consultation of record {number} is already linked to ledger entry {system}"),
            );
        }
    }
    if !ctx.problems.is_empty() {
        return Err(ImportError::Problems(std::mem::take(&mut ctx.problems)));
    }
    counts.imported = planned.len();
    counts.events = planned.len();
    if !dry_run {
        let mut keys = Vec::with_capacity(planned.len());
        for p in planned {
            let history = history(&p.row, &ctx.imported(&p.record_number));
            let id = imports::insert_system(conn, &p.row, history, &p.consultations)?;
            keys.push(RecordKey {
                app: "ledger",
                record_number: p.record_number,
                target_id: id,
                imported_at: ctx.now,
            });
        }
        imports::remember(conn, &keys)?;
    }
    Ok(counts)
}

/// The consultations a record names, by their Digicon app record numbers.
fn links<'a>(
    ctx: &mut Ctx<'a>,
    record: &'a KintoneRecord,
    consultations: &HashMap<String, i64>,
    claimed: &mut HashMap<i64, (u64, String)>,
) -> Option<Vec<i64>> {
    let Some(cell) = ctx.cell(record, "consultations") else {
        return Some(vec![]);
    };
    let mut ids = vec![];
    let mut ok = true;
    for number in cell
        .value
        .split(['\n', ',', '、', ' ', '　'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        match consultations.get(number) {
            Some(&id) => {
                if let Some((first, _)) = claimed.insert(id, (cell.line, number.to_string())) {
                    ctx.problem(
                        cell.line,
                        cell.field,
                        format!("consultation record {number} is linked at line {first} too"),
                    );
                    ok = false;
                }
                ids.push(id);
            }
            None => {
                ctx.problem(
                    cell.line,
                    cell.field,
                    format!(
                        "no consultation was imported from Digicon app record {number} (import that app first)"
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(ids)
}

/// A whole number of at most `max` (kintone may write thousands separators).
fn amount(ctx: &mut Ctx, cell: Option<Cell>, max: i64) -> Option<Option<i64>> {
    let Some(cell) = cell else {
        return Some(None);
    };
    match cell.value.replace([',', '，'], "").parse::<i64>() {
        Ok(n) if (0..=max).contains(&n) => Some(Some(n)),
        _ => {
            ctx.problem(
                cell.line,
                cell.field,
                format!("{:?} is not a whole number from 0 to {max}", cell.value),
            );
            None
        }
    }
}

/// Yes or no as kintone apps write it.
fn yes_no(ctx: &mut Ctx, cell: Option<Cell>) -> Option<Option<bool>> {
    let Some(cell) = cell else {
        return Some(None);
    };
    match cell.value {
        "あり" | "有" | "はい" | "○" | "済" | "確認済" | "yes" | "true" | "1" => {
            Some(Some(true))
        }
        "なし" | "無" | "いいえ" | "×" | "未" | "未確認" | "no" | "false" | "0" => {
            Some(Some(false))
        }
        other => {
            ctx.problem(
                cell.line,
                cell.field,
                format!("{other:?} is neither yes (あり) nor no (なし)"),
            );
            None
        }
    }
}

fn plan<'a>(
    ctx: &mut Ctx<'a>,
    record: &'a KintoneRecord,
    record_number: &str,
    links: Option<Vec<i64>>,
) -> Option<Planned> {
    let before = ctx.problems.len();
    let mapping = ctx.mapping;
    let cell = ctx.required(record, "created_at");
    let created = ctx.datetime(cell);
    let created = ctx.not_future(created, record, "created_at");
    let cell = ctx.required(record, "name");
    let name = ctx.text(cell, TITLE_MAX_CHARS);
    let cell = ctx.required(record, "department");
    let department = ctx.department(cell);
    let cell = ctx.required(record, "owner");
    let owner = ctx.user(cell).map(|u| u.id);
    let cell = ctx.required(record, "platform");
    let platform = ctx.value(cell, &mapping.platforms, "platforms", Platform::parse, None);
    let cell = ctx.required(record, "phase");
    let phase = ctx.value(cell, &mapping.phases, "phases", Phase::parse, None);
    let cell = ctx.cell(record, "built_by");
    let default = mapping.defaults.built_by.as_deref().or(Some("in_house"));
    let built_by = ctx.value(cell, &mapping.built_by, "built_by", BuiltBy::parse, default);
    let cell = ctx.cell(record, "workflow_before");
    let workflow_before = ctx.text(cell, TEXT_MAX_CHARS);
    let cell = ctx.cell(record, "workflow_after");
    let workflow_after = ctx.text(cell, TEXT_MAX_CHARS);
    let cell = ctx.cell(record, "hours_saved_per_year");
    let hours = amount(ctx, cell, HOURS_MAX);
    let cell = ctx.cell(record, "cost_saved_per_year");
    let cost = amount(ctx, cell, COST_MAX);
    let cell = ctx.cell(record, "holds_personal_data");
    let personal = yes_no(ctx, cell);
    let cell = ctx.cell(record, "manual_location");
    let manual_location = ctx.text(cell, MANUAL_MAX_CHARS);
    let cell = ctx.cell(record, "review_on");
    let review_on = ctx.date(cell);
    let cell = ctx.cell(record, "production_on");
    let production_on = ctx.date(cell);
    let cell = ctx.cell(record, "verified");
    let verified = yes_no(ctx, cell);
    if ctx.problems.len() > before {
        return None;
    }
    let (created, name, department, owner) = (created?, name?, department?, owner?);
    let (platform, phase, built_by) = (platform?, phase?, built_by?);
    let production_at: Option<NaiveDateTime> = match production_on {
        Some(day) => ctx
            .zone
            .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|at| at.naive_utc()),
        None => (phase == Phase::Production).then_some(created),
    };
    Some(Planned {
        record_number: record_number.to_string(),
        row: SystemRow {
            name,
            department_id: department,
            platform: platform.as_str(),
            phase: phase.as_str(),
            built_by: built_by.as_str(),
            workflow_before,
            workflow_after,
            hours_saved_per_year: hours?,
            cost_saved_per_year: cost?,
            holds_personal_data: personal?.unwrap_or(false),
            manual_location,
            owner_id: owner,
            review_on,
            production_at,
            version: 1,
            created_at: created,
            updated_at: created,
            verified: verified?.or(mapping.defaults.verified).unwrap_or(true),
            other_effects: "[]".into(),
        },
        consultations: links?,
    })
}

/// The `register` history row of an imported entry.
fn history(row: &SystemRow, mark: &serde_json::Value) -> String {
    marked(
        json!({
            "name": row.name, "department_id": row.department_id, "platform": row.platform,
            "phase": row.phase, "built_by": row.built_by,
            "workflow_before": row.workflow_before, "workflow_after": row.workflow_after,
            "hours_saved_per_year": row.hours_saved_per_year,
            "cost_saved_per_year": row.cost_saved_per_year,
            "holds_personal_data": row.holds_personal_data,
            "manual_location": row.manual_location, "owner_id": row.owner_id,
            "review_on": row.review_on.map(|d| d.to_string()), "verified": row.verified,
        }),
        mark,
    )
}
