//! The system ledger: entries, their append-only history, and the compare-and-set
//! that lets only one worker send an owner's weekly reminder. The ledger is small
//! (one city: ~300 entries; a prefecture: thousands), so lists load the caller's
//! scope and filter, match and total in Rust.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Map, Value};

use super::consultations::{Consultation, Scope};
use super::schema::{consultations, system_events, system_idempotency_keys, systems};
use super::DbConn;
use crate::domain::ledger::{BuiltBy, Phase, Platform, SystemFields};
use crate::domain::savings::OtherEffect;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = systems)]
pub struct System {
    pub id: i64,
    pub name: String,
    pub department_id: i64,
    pub platform: Platform,
    pub phase: Phase,
    pub built_by: BuiltBy,
    pub workflow_before: Option<String>,
    pub workflow_after: Option<String>,
    pub hours_saved_per_year: Option<i64>,
    pub cost_saved_per_year: Option<i64>,
    pub holds_personal_data: bool,
    pub manual_location: Option<String>,
    pub owner_id: i64,
    pub review_on: Option<chrono::NaiveDate>,
    pub production_at: Option<NaiveDateTime>,
    pub reminded_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Confirmed by the DX office; only confirmed entries count in the effects.
    pub verified: bool,
    /// Yen, once (a vendor's estimate of building it).
    pub development_cost_avoided: Option<i64>,
    /// JSON list of [`OtherEffect`]; read it with [`System::other_effects`].
    pub other_effects: String,
}

impl System {
    /// The entry as the domain rules see it.
    pub fn fields(&self) -> SystemFields {
        SystemFields {
            name: self.name.clone(),
            department_id: Some(self.department_id),
            platform: self.platform,
            phase: self.phase,
            built_by: self.built_by,
            workflow_before: self.workflow_before.clone(),
            workflow_after: self.workflow_after.clone(),
            hours_saved_per_year: self.hours_saved_per_year,
            cost_saved_per_year: self.cost_saved_per_year,
            holds_personal_data: self.holds_personal_data,
            manual_location: self.manual_location.clone(),
            owner_id: Some(self.owner_id),
            review_on: self.review_on,
            verified: self.verified,
            development_cost_avoided: self.development_cost_avoided,
            other_effects: self.other_effects(),
        }
    }

    /// The effects that are not hours (none if the stored list is unreadable).
    pub fn other_effects(&self) -> Vec<OtherEffect> {
        serde_json::from_str(&self.other_effects).unwrap_or_default()
    }
}

/// The columns an entry's fields set, on insert and on update alike.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = systems, treat_none_as_null = true)]
struct SystemRow<'a> {
    name: &'a str,
    department_id: i64,
    platform: &'a str,
    phase: &'a str,
    built_by: &'a str,
    workflow_before: Option<&'a str>,
    workflow_after: Option<&'a str>,
    hours_saved_per_year: Option<i64>,
    cost_saved_per_year: Option<i64>,
    holds_personal_data: bool,
    manual_location: Option<&'a str>,
    owner_id: i64,
    review_on: Option<chrono::NaiveDate>,
    production_at: Option<NaiveDateTime>,
    version: i32,
    updated_at: NaiveDateTime,
    verified: bool,
    development_cost_avoided: Option<i64>,
    other_effects: String,
}

fn row<'a>(
    f: &'a SystemFields,
    department_id: i64,
    owner_id: i64,
    production_at: Option<NaiveDateTime>,
    version: i32,
    now: NaiveDateTime,
) -> SystemRow<'a> {
    SystemRow {
        name: &f.name,
        department_id,
        platform: f.platform.as_str(),
        phase: f.phase.as_str(),
        built_by: f.built_by.as_str(),
        workflow_before: f.workflow_before.as_deref(),
        workflow_after: f.workflow_after.as_deref(),
        hours_saved_per_year: f.hours_saved_per_year,
        cost_saved_per_year: f.cost_saved_per_year,
        holds_personal_data: f.holds_personal_data,
        manual_location: f.manual_location.as_deref(),
        owner_id,
        review_on: f.review_on,
        production_at,
        version,
        updated_at: now,
        verified: f.verified,
        development_cost_avoided: f.development_cost_avoided,
        other_effects: serde_json::to_string(&f.other_effects).unwrap_or_else(|_| "[]".into()),
    }
}

/// The fields as JSON, for the history.
fn fields_json(f: &SystemFields) -> Map<String, Value> {
    let value = json!({
        "name": f.name, "department_id": f.department_id, "platform": f.platform.as_str(),
        "phase": f.phase.as_str(), "built_by": f.built_by.as_str(),
        "workflow_before": f.workflow_before, "workflow_after": f.workflow_after,
        "hours_saved_per_year": f.hours_saved_per_year, "cost_saved_per_year": f.cost_saved_per_year,
        "holds_personal_data": f.holds_personal_data, "manual_location": f.manual_location,
        "owner_id": f.owner_id, "review_on": f.review_on.map(|d| d.to_string()),
        "verified": f.verified,
        "development_cost_avoided": f.development_cost_avoided,
        "other_effects": f.other_effects,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = system_events)]
struct NewSystemEvent<'a> {
    system_id: i64,
    event: &'a str,
    actor_id: Option<i64>,
    from_phase: Option<&'a str>,
    to_phase: &'a str,
    payload: String,
    created_at: NaiveDateTime,
}

/// One change in an entry's history: `register`, `phase` (with from and to) or `update`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = system_events)]
pub struct SystemEvent {
    pub id: i64,
    pub system_id: i64,
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_phase: Option<String>,
    pub to_phase: String,
    /// JSON: the fields on `register`, `{field: [before, after]}` otherwise.
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// Who registers an entry and, for a retry-safe API request, its idempotency key
/// and request hash.
#[derive(Debug, Clone, Copy)]
pub struct Registrant<'a> {
    pub actor_id: Option<i64>,
    pub idempotency: Option<(&'a str, &'a str)>,
}

/// Registers an entry with its first history row (and its idempotency key, which
/// a concurrent retry then finds taken). `department_id` and `owner_id` are the
/// resolved ones.
pub fn register(
    conn: &mut DbConn,
    fields: &SystemFields,
    department_id: i64,
    owner_id: i64,
    by: Registrant,
    now: NaiveDateTime,
) -> QueryResult<System> {
    let actor_id = by.actor_id;
    conn.transaction(|conn| {
        let production_at = (fields.phase == Phase::Production).then_some(now);
        let id: i64 = diesel::insert_into(systems::table)
            .values((
                row(fields, department_id, owner_id, production_at, 1, now),
                systems::created_at.eq(now),
            ))
            .returning(systems::id)
            .get_result(conn)?;
        let mut payload = fields_json(fields);
        payload.insert("department_id".into(), json!(department_id));
        payload.insert("owner_id".into(), json!(owner_id));
        diesel::insert_into(system_events::table)
            .values(NewSystemEvent {
                system_id: id,
                event: "register",
                actor_id,
                from_phase: None,
                to_phase: fields.phase.as_str(),
                payload: Value::Object(payload).to_string(),
                created_at: now,
            })
            .execute(conn)?;
        if let (Some(user_id), Some((key, hash))) = (actor_id, by.idempotency) {
            diesel::insert_into(system_idempotency_keys::table)
                .values((
                    system_idempotency_keys::user_id.eq(user_id),
                    system_idempotency_keys::key.eq(key),
                    system_idempotency_keys::request_hash.eq(hash),
                    system_idempotency_keys::system_id.eq(id),
                    system_idempotency_keys::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        find(conn, id)?.ok_or(diesel::result::Error::NotFound)
    })
}

/// The entry an idempotency key registered and the hash of the request that did.
pub fn find_idempotency(
    conn: &mut DbConn,
    user_id: i64,
    key: &str,
) -> QueryResult<Option<(i64, String)>> {
    system_idempotency_keys::table
        .find((user_id, key))
        .select((
            system_idempotency_keys::system_id,
            system_idempotency_keys::request_hash,
        ))
        .first(conn)
        .optional()
}

/// Writes an edit, with its history row, if the entry is still at
/// `expected_version`; `None` when someone else changed it first. An edit that
/// changes nothing writes nothing and returns the entry as it is.
pub fn update(
    conn: &mut DbConn,
    current: &System,
    expected_version: i32,
    next: &SystemFields,
    actor_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<System>> {
    let before = fields_json(&current.fields());
    let after = fields_json(next);
    let changes: Map<String, Value> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), json!([before.get(k), v])))
        .collect();
    if changes.is_empty() {
        return Ok(Some(current.clone()));
    }
    let from = current.phase;
    let production_at = match current.production_at {
        None if next.phase == Phase::Production => Some(now),
        at => at,
    };
    conn.transaction(|conn| {
        let updated = diesel::update(
            systems::table
                .filter(systems::id.eq(current.id))
                .filter(systems::version.eq(expected_version)),
        )
        .set(row(
            next,
            next.department_id.unwrap_or(current.department_id),
            next.owner_id.unwrap_or(current.owner_id),
            production_at,
            expected_version + 1,
            now,
        ))
        .execute(conn)?;
        if updated == 0 {
            return Ok(None);
        }
        diesel::insert_into(system_events::table)
            .values(NewSystemEvent {
                system_id: current.id,
                event: if from == next.phase {
                    "update"
                } else {
                    "phase"
                },
                actor_id: Some(actor_id),
                from_phase: Some(from.as_str()),
                to_phase: next.phase.as_str(),
                payload: Value::Object(changes).to_string(),
                created_at: now,
            })
            .execute(conn)?;
        find(conn, current.id)
    })
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<System>> {
    systems::table
        .find(id)
        .select(System::as_select())
        .first(conn)
        .optional()
}

/// An entry only if the scope lets the caller see it.
pub fn find_visible(conn: &mut DbConn, id: i64, scope: &Scope) -> QueryResult<Option<System>> {
    Ok(find(conn, id)?.filter(|s| scope.contains(s.department_id)))
}

/// Every entry the scope covers, oldest first.
pub fn list(conn: &mut DbConn, scope: &Scope) -> QueryResult<Vec<System>> {
    let mut query = systems::table
        .order(systems::id.asc())
        .select(System::as_select())
        .into_boxed();
    if let Scope::Departments(ids) = scope {
        query = query.filter(systems::department_id.eq_any(ids.clone()));
    }
    query.load(conn)
}

pub fn history(conn: &mut DbConn, system_id: i64) -> QueryResult<Vec<SystemEvent>> {
    system_events::table
        .filter(system_events::system_id.eq(system_id))
        .order(system_events::id.asc())
        .select(SystemEvent::as_select())
        .load(conn)
}

/// The consultations that led to an entry, as far as the scope lets the caller see.
pub fn consultations_of(
    conn: &mut DbConn,
    system_id: i64,
    scope: &Scope,
) -> QueryResult<Vec<Consultation>> {
    let mut query = consultations::table
        .filter(consultations::system_id.eq(system_id))
        .order(consultations::id.asc())
        .select(Consultation::as_select())
        .into_boxed();
    if let Scope::Departments(ids) = scope {
        query = query.filter(consultations::department_id.eq_any(ids.clone()));
    }
    query.load(conn)
}

/// Production systems whose owner was not reminded since `since`.
pub fn due_for_reminder(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<System>> {
    systems::table
        .filter(systems::phase.eq(Phase::Production.as_str()))
        .filter(
            systems::reminded_at
                .is_null()
                .or(systems::reminded_at.lt(since)),
        )
        .order(systems::id.asc())
        .select(System::as_select())
        .load(conn)
}

/// Records a reminder, only if nobody recorded one since `seen` was read: of
/// several workers, exactly one gets 1 back and sends.
pub fn mark_reminded(conn: &mut DbConn, system: &System, now: NaiveDateTime) -> QueryResult<usize> {
    let target = systems::table.filter(systems::id.eq(system.id));
    match system.reminded_at {
        Some(seen) => diesel::update(target.filter(systems::reminded_at.eq(seen)))
            .set(systems::reminded_at.eq(now))
            .execute(conn),
        None => diesel::update(target.filter(systems::reminded_at.is_null()))
            .set(systems::reminded_at.eq(now))
            .execute(conn),
    }
}
