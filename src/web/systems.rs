//! The system ledger endpoints: list, similar names, register, read, edit, and
//! the effects. Entries follow the consultations' visibility: a requester sees
//! their division's, a manager their scope's, staff all; anything else is 404.

use std::collections::HashMap;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Kind, Problem};
use super::json::ApiJson;
use super::AppState;
use crate::db::consultations::Scope;
use crate::db::systems::{self, System};
use crate::db::{self, departments, users, DbConn};
use crate::domain::ledger::{
    may_edit, may_register, missing_fields, review_overdue, BuiltBy, Phase, Platform, Proposed,
    SystemFields, SystemInput, SIMILAR_FROM,
};
use crate::domain::search::normalize;
use crate::domain::{Role, State};
use crate::reports::ledger::{effects, Effects, EffectsSettings};

/// A ledger entry as the API shows it. Times are RFC 3339 in the display zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemView {
    pub id: i64,
    pub name: String,
    pub department_id: i64,
    pub platform: Platform,
    pub phase: Phase,
    pub built_by: BuiltBy,
    pub workflow_before: Option<String>,
    pub workflow_after: Option<String>,
    pub hours_saved_per_year: Option<i64>,
    /// Yen a year.
    pub cost_saved_per_year: Option<i64>,
    pub holds_personal_data: bool,
    pub manual_location: Option<String>,
    pub owner_id: i64,
    /// `YYYY-MM-DD`.
    pub review_on: Option<String>,
    pub production_at: Option<String>,
    /// Send it back with every change; a stale one gets 409.
    pub version: i32,
    pub created_at: String,
    pub updated_at: String,
    /// Fields a production system should have and lacks.
    pub missing_fields: Vec<String>,
    pub review_overdue: bool,
    /// Missing fields or an overdue review.
    pub flagged: bool,
    /// The consultations it came from (single resource only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consultations: Option<Vec<LinkedConsultation>>,
    /// Its changes, oldest first (single resource only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<SystemHistoryItem>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedConsultation {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub state: State,
}

/// One change: `register`, `phase` (from → to) or `update`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemHistoryItem {
    pub event: String,
    pub actor_id: Option<i64>,
    pub from_phase: Option<String>,
    pub to_phase: String,
    /// The fields on `register`; `{"field": [before, after]}` otherwise.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemPage {
    pub items: Vec<SystemView>,
    pub next_cursor: Option<String>,
}

/// Today in the display zone (review dates are calendar days there).
pub(crate) fn today(state: &AppState) -> NaiveDate {
    Utc::now()
        .with_timezone(&state.settings.timezone)
        .date_naive()
}

impl SystemView {
    pub fn new(state: &AppState, s: System, today: NaiveDate) -> SystemView {
        let fields = s.fields();
        let missing: Vec<String> = missing_fields(&fields)
            .into_iter()
            .map(str::to_string)
            .collect();
        let overdue = review_overdue(&fields, today);
        SystemView {
            id: s.id,
            flagged: overdue || !missing.is_empty(),
            missing_fields: missing,
            review_overdue: overdue,
            name: s.name,
            department_id: s.department_id,
            platform: s.platform,
            phase: s.phase,
            built_by: s.built_by,
            workflow_before: s.workflow_before,
            workflow_after: s.workflow_after,
            hours_saved_per_year: s.hours_saved_per_year,
            cost_saved_per_year: s.cost_saved_per_year,
            holds_personal_data: s.holds_personal_data,
            manual_location: s.manual_location,
            owner_id: s.owner_id,
            review_on: s.review_on.map(|d| d.to_string()),
            production_at: s.production_at.map(|t| state.format_time(t)),
            version: s.version,
            created_at: state.format_time(s.created_at),
            updated_at: state.format_time(s.updated_at),
            consultations: None,
            history: None,
        }
    }
}

/// The list's filters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct SystemListParams {
    /// A department id or code; includes the units below it.
    pub department: Option<String>,
    pub platform: Option<String>,
    pub phase: Option<String>,
    /// Only production systems that lack a field or are past their review date.
    pub flagged: Option<String>,
    /// Text in the name (full- and half-width alike).
    pub q: Option<String>,
    /// The fiscal year the systems entered production in (effects only).
    pub fiscal_year: Option<i32>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// The entries the caller may see that pass the filters, oldest first.
pub(crate) fn filtered(
    conn: &mut DbConn,
    user: &CurrentUser,
    params: &SystemListParams,
    today: NaiveDate,
) -> Result<Vec<System>, AppError> {
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let platform = match blank(&params.platform) {
        Some(p) => {
            Some(Platform::parse(&p).ok_or_else(|| AppError::invalid_parameter("platform", &p))?)
        }
        None => None,
    };
    let phase = match blank(&params.phase) {
        Some(p) => Some(Phase::parse(&p).ok_or_else(|| AppError::invalid_parameter("phase", &p))?),
        None => None,
    };
    let flagged = match blank(&params.flagged).as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(v) => return Err(AppError::invalid_parameter("flagged", v)),
    };
    let within = match blank(&params.department) {
        None => None,
        Some(d) => {
            let found = match d.parse::<i64>() {
                Ok(id) => departments::find(conn, id)?,
                Err(_) => departments::find_by_code(conn, &d)?,
            };
            Some(match found {
                Some(dep) => departments::subtree_ids(conn, dep.id)?,
                None => vec![],
            })
        }
    };
    let q = blank(&params.q).map(|q| normalize(&q));
    let scope = user.scope(conn)?;
    Ok(systems::list(conn, &scope)?
        .into_iter()
        .filter(|s| {
            within
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.department_id))
        })
        .filter(|s| platform.is_none_or(|p| s.platform == p))
        .filter(|s| phase.is_none_or(|p| s.phase == p))
        .filter(|s| {
            q.as_ref()
                .is_none_or(|q| normalize(&s.name).contains(q.as_str()))
        })
        .filter(|s| {
            let f = s.fields();
            !flagged || review_overdue(&f, today) || !missing_fields(&f).is_empty()
        })
        .collect())
}

/// One page of entries (oldest first) after the cursor, which is the last id seen,
/// and the cursor of the next page.
pub(crate) fn page_of(
    rows: Vec<System>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<(Vec<System>, Option<String>), AppError> {
    let limit = usize::try_from(super::consultations::parse_limit(limit)?).unwrap_or(50);
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| AppError::invalid_parameter("cursor", c))?,
    };
    let mut rows: Vec<System> = rows.into_iter().filter(|s| s.id > after).collect();
    let next = (rows.len() > limit).then(|| rows[limit - 1].id.to_string());
    rows.truncate(limit);
    Ok((rows, next))
}

/// Ledger entries the caller may see, filtered.
#[utoipa::path(get, path = "/api/v1/systems", tag = "systems", params(SystemListParams), security(("bearer" = [])),
    responses((status = 200, body = SystemPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/systems")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let today = today(&state);
    let limit = params.limit.clone();
    let cursor = params.cursor.clone();
    let rows = state
        .db(move |conn| filtered(conn, &user, &params, today))
        .await?;
    let (rows, next_cursor) = page_of(rows, limit.as_deref(), cursor.as_deref())?;
    Ok(HttpResponse::Ok().json(SystemPage {
        items: rows
            .into_iter()
            .map(|s| SystemView::new(&state, s, today))
            .collect(),
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SimilarSystemParams {
    /// The proposed name.
    pub name: Option<String>,
    /// What it does (compared with the entries' workflow after).
    pub description: Option<String>,
    /// An entry to leave out (the one being edited).
    pub exclude: Option<i64>,
}

/// An existing system whose name or description is like the proposed one.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarSystem {
    pub id: i64,
    pub name: String,
    pub department_id: i64,
    pub department: String,
    pub platform: Platform,
    pub phase: Phase,
    /// 0.0 to 1.0.
    pub score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarSystemList {
    pub items: Vec<SimilarSystem>,
}

/// Up to ten entries of the whole ledger most like a proposed system, best first.
/// Names and divisions of other divisions' systems are shown on purpose: a
/// duplicate app is most often one another division already built.
pub(crate) fn similar_systems(
    conn: &mut DbConn,
    name: &str,
    description: Option<&str>,
    exclude: Option<i64>,
) -> Result<Vec<SimilarSystem>, AppError> {
    if name.trim().is_empty() && description.is_none_or(|d| d.trim().is_empty()) {
        return Ok(vec![]);
    }
    let names: HashMap<i64, String> = departments::list(conn)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let proposed = Proposed::new(name, description);
    let mut found: Vec<SimilarSystem> = systems::list(conn, &Scope::All)?
        .into_iter()
        .filter(|s| Some(s.id) != exclude)
        .filter_map(|s| {
            let score = proposed.similarity(&s.name, s.workflow_after.as_deref());
            (score >= SIMILAR_FROM).then(|| SimilarSystem {
                id: s.id,
                department: names.get(&s.department_id).cloned().unwrap_or_default(),
                department_id: s.department_id,
                name: s.name,
                platform: s.platform,
                phase: s.phase,
                score: (score * 100.0).round() / 100.0,
            })
        })
        .collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    found.truncate(10);
    Ok(found)
}

/// Existing systems like a proposed one, to check before registering.
#[utoipa::path(get, path = "/api/v1/systems/similar", tag = "systems", params(SimilarSystemParams), security(("bearer" = [])),
    responses((status = 200, body = SimilarSystemList), (status = 401, body = Problem)))]
#[get("/api/v1/systems/similar")]
pub async fn similar(
    state: web::Data<AppState>,
    _user: CurrentUser,
    params: web::Query<SimilarSystemParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let items = state
        .db(move |conn| {
            similar_systems(
                conn,
                params.name.as_deref().unwrap_or_default(),
                params.description.as_deref(),
                params.exclude,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(SimilarSystemList { items }))
}

/// The division an entry belongs to: a requester's own by default; a named one
/// must exist and lie in the caller's scope. The owner must be an active user.
fn owner_and_division(
    conn: &mut DbConn,
    user: &CurrentUser,
    fields: &SystemFields,
) -> Result<(i64, i64), AppError> {
    let department_id = match fields.department_id {
        Some(id) => {
            if departments::find(conn, id)?.is_none() {
                return Err(AppError::invalid_field(
                    "department_id",
                    "validation.unknown_department",
                ));
            }
            if !user.scope(conn)?.contains(id) {
                return Err(AppError::invalid_field(
                    "department_id",
                    "validation.department_out_of_scope",
                ));
            }
            id
        }
        None if user.role == Role::Requester => {
            let department = departments::find(conn, user.department_id)?
                .ok_or_else(|| AppError::internal("user without department"))?;
            departments::division_of(conn, &department)?
        }
        None => {
            return Err(AppError::invalid_field(
                "department_id",
                "validation.required",
            ))
        }
    };
    let owner_id = fields.owner_id.unwrap_or(user.id);
    if !users::find(conn, owner_id)?.is_some_and(|u| u.active) {
        return Err(AppError::invalid_field(
            "owner_id",
            "validation.unknown_user",
        ));
    }
    Ok((owner_id, department_id))
}

/// Registers an entry for the caller. With an idempotency key (and request hash),
/// a retry returns the entry the first request registered: `(entry, replayed)`.
pub(crate) fn register_for(
    conn: &mut DbConn,
    user: &CurrentUser,
    input: &SystemInput,
    idempotency: Option<(&str, &str)>,
) -> Result<(System, bool), AppError> {
    let replay = |conn: &mut DbConn| -> Result<Option<System>, AppError> {
        let Some((key, hash)) = idempotency else {
            return Ok(None);
        };
        match systems::find_idempotency(conn, user.id, key)? {
            Some((_, stored)) if stored != hash => {
                Err(AppError::new(Kind::Conflict, "error.idempotency_mismatch"))
            }
            Some((id, _)) => Ok(systems::find(conn, id)?),
            None => Ok(None),
        }
    };
    if let Some(first) = replay(conn)? {
        return Ok((first, true));
    }
    if !may_register(user.role) {
        return Err(AppError::forbidden());
    }
    let fields = input.parse_new()?;
    let (owner_id, department_id) = owner_and_division(conn, user, &fields)?;
    let registered = systems::register(
        conn,
        &fields,
        department_id,
        owner_id,
        systems::Registrant {
            actor_id: Some(user.id),
            idempotency,
        },
        db::now(),
    );
    match registered {
        Ok(system) => Ok((system, false)),
        // A concurrent retry with the same key won.
        Err(e) if db::is_unique_violation(&e) => match replay(conn)? {
            Some(first) => Ok((first, true)),
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// An entry the caller may see, or 404.
pub(crate) fn visible(conn: &mut DbConn, user: &CurrentUser, id: i64) -> Result<System, AppError> {
    let scope = user.scope(conn)?;
    systems::find_visible(conn, id, &scope)?.ok_or_else(AppError::not_found)
}

/// Edits an entry for the caller, checking who may, the version and the phase rules.
pub(crate) fn edit_for(
    conn: &mut DbConn,
    user: &CurrentUser,
    id: i64,
    input: &SystemInput,
) -> Result<System, AppError> {
    let current = visible(conn, user, id)?;
    if !may_edit(user.role, current.owner_id == user.id) {
        return Err(AppError::forbidden());
    }
    let (version, next) = input.parse_edit(&current.fields())?;
    if version != current.version {
        return Err(AppError::stale_version(current.version));
    }
    if next.department_id != Some(current.department_id) || next.owner_id != Some(current.owner_id)
    {
        owner_and_division(conn, user, &next)?;
    }
    systems::update(conn, &current, version, &next, user.id, db::now())?
        .ok_or_else(|| AppError::stale_version(version + 1))
}

/// Register a system in the ledger. With `Idempotency-Key`, a retry of the same
/// request returns the entry the first one registered.
#[utoipa::path(post, path = "/api/v1/systems", tag = "systems", request_body = SystemInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = SystemView, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the key was used with a different body"),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/systems")]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    body: ApiJson<SystemInput>,
) -> Result<HttpResponse, AppError> {
    let (key, hash) = super::consultations::idempotency(&req, &body.canonical)?;
    let input = body.value;
    let (system, replayed) = state
        .db(move |conn| {
            register_for(
                conn,
                &user,
                &input,
                key.as_deref().map(|k| (k, hash.as_str())),
            )
        })
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header(("Location", format!("/api/v1/systems/{}", system.id)));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(SystemView::new(&state, system, today(&state))))
}

/// One entry with its history and the consultations it came from.
#[utoipa::path(get, path = "/api/v1/systems/{id}", tag = "systems", security(("bearer" = [])),
    responses((status = 200, body = SystemView), (status = 401, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/systems/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (system, linked, history) = state
        .db(move |conn| {
            let system = visible(conn, &user, id)?;
            let scope = user.scope(conn)?;
            let linked = systems::consultations_of(conn, id, &scope)?;
            Ok((system, linked, systems::history(conn, id)?))
        })
        .await?;
    let mut view = SystemView::new(&state, system, today(&state));
    view.consultations = Some(
        linked
            .into_iter()
            .map(|c| LinkedConsultation {
                id: c.id,
                number: c.number,
                title: c.title,
                state: c.state,
            })
            .collect(),
    );
    view.history = Some(
        history
            .into_iter()
            .map(|e| SystemHistoryItem {
                event: e.event,
                actor_id: e.actor_id,
                from_phase: e.from_phase,
                to_phase: e.to_phase,
                payload: serde_json::from_str(&e.payload).unwrap_or_default(),
                created_at: state.format_time(e.created_at),
            })
            .collect(),
    );
    Ok(HttpResponse::Ok().json(view))
}

/// Edit an entry or move its phase (`{"version", "phase": "production", ...}`).
#[utoipa::path(patch, path = "/api/v1/systems/{id}", tag = "systems", request_body = SystemInput, security(("bearer" = [])),
    responses((status = 200, body = SystemView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "a field is invalid, the phase may not move so, or production lacks the manual")))]
#[patch("/api/v1/systems/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<SystemInput>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let system = state
        .db(move |conn| edit_for(conn, &user, id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(SystemView::new(&state, system, today(&state))))
}

/// The effects of the entries the caller may see, filtered like the list.
pub(crate) fn effects_for(
    conn: &mut DbConn,
    app: &AppState,
    user: &CurrentUser,
    params: &SystemListParams,
) -> Result<Effects, AppError> {
    let settings = EffectsSettings {
        hours_per_person_year: app.settings.hours_per_person_year,
        annual_target_hours: app.settings.annual_target_hours,
        timezone: app.settings.timezone,
    };
    let rows: Vec<System> = filtered(conn, user, params, today(app))?
        .into_iter()
        .filter(|s| {
            params.fiscal_year.is_none_or(|year| {
                crate::reports::ledger::production_year(s, settings.timezone) == Some(year)
            })
        })
        .collect();
    Ok(effects(&rows, settings))
}

/// Hours and cost saved, systems by phase, the in-house rate, staff equivalent and
/// progress toward the annual target, with breakdowns; scoped to the caller.
#[utoipa::path(get, path = "/api/v1/systems/effects", tag = "systems", params(SystemListParams), security(("bearer" = [])),
    responses((status = 200, body = Effects), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/systems/effects")]
pub async fn effects_report(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let app = state.clone();
    let report = state
        .db(move |conn| effects_for(conn, &app, &user, &params))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
