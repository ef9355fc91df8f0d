//! The ledger pages: the list with filters and flags, an entry with its history and
//! consultations, the registration and edit forms (which show similar existing
//! systems before saving), and the effects with a chart. They call the same
//! `app::ledger` use cases as the API.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::consultations::{labelled_error_flash, options, time, value};
use super::{base, check_csrf, page_locale, redirect, render_status};
use crate::app::ledger::{self, EditForm, Registration, Similar};
use crate::db::departments::Department;
use crate::db::systems::System;
use crate::domain::fiscal::era_label;
use crate::domain::ids::SystemId;
use crate::domain::ledger::{BuiltBy, Phase, Platform, SystemInput};
use crate::i18n::{t, Locale};
use crate::reports::charts::{columns, Series};
use crate::reports::ledger::{flags, Breakdown};
use crate::web::auth::CurrentUser;
use crate::web::error::{AppError, Kind};
use crate::web::params::{parse_id_cursor, parse_limit, SystemListParams};
use crate::web::AppState;

type Form = super::form::PageForm;

fn label(locale: Locale, prefix: &str, value: &str) -> String {
    t(locale, &format!("ledger.{prefix}.{value}"), &[])
}

/// `1234567` → `1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

fn wire<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

/// The divisions of a form's select, one of them chosen.
fn division_options(divisions: &[Department], selected: Option<&str>) -> Vec<Value> {
    divisions
        .iter()
        .map(|d| json!({"value": d.id, "label": d.name, "selected": selected == Some(d.id.to_string().as_str())}))
        .collect()
}

#[get("/systems")]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let filter = params.filter()?;
    // A page shows up to 200 entries; the rest follow by cursor.
    let limit = parse_limit(params.limit.as_deref().or(Some("200")))? as usize;
    let after = parse_id_cursor(params.cursor.as_deref())?;
    let page = state
        .call(&user, move |app, conn, caller| {
            ledger::list_page(app, conn, caller, &filter, limit, after)
        })
        .await?;
    let today = state.app.today();
    let (rows, next, names, owners) = (page.rows, page.next, page.names, page.owners);
    let division_choices = division_options(&page.divisions, params.department.as_deref());
    let query: HashMap<String, String> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let rows: Vec<Value> = rows
        .iter()
        .map(|s| {
            let flags = flags(locale, s, today);
            json!({
                "id": s.id, "name": s.name,
                "department": names.get(&s.department_id).cloned().unwrap_or_default(),
                "platform_label": label(locale, "platform", s.platform.as_str()),
                "phase": s.phase.as_str(), "phase_label": label(locale, "phase", s.phase.as_str()),
                "built_by_label": label(locale, "built_by", s.built_by.as_str()),
                "hours": s.hours_saved_per_year.map(grouped),
                "owner": owners.get(&s.owner_id).cloned().unwrap_or_default(),
                "review_on": s.review_on.map(|d| d.to_string()),
                "flagged": !flags.is_empty(), "flags": flags,
            })
        })
        .collect();
    let mut data = base(&req, Some(&user), locale, "ledger.heading");
    data["rows"] = json!(rows);
    data["next_page"] = json!(next.map(|cursor| {
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "cursor")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.push(("cursor".into(), cursor.to_string()));
        format!(
            "/systems?{}",
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        )
    }));
    data["can_register"] = json!(page.may_register);
    // The exports take the page's filters, but always from the first entry.
    data["export_query"] = json!(form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter().filter(|(k, _)| k.as_str() != "cursor"))
        .finish());
    data["q"] = json!(get("q"));
    data["flagged"] = json!(get("flagged") == Some("true"));
    data["departments"] = json!(division_choices);
    data["platforms"] = json!(options(
        &wire(Platform::ALL, Platform::as_str),
        "ledger.platform",
        get("platform"),
        locale
    ));
    data["phases"] = json!(options(
        &wire(Phase::ALL, Phase::as_str),
        "ledger.phase",
        get("phase"),
        locale
    ));
    render_status(&state, &req, "systems", data, StatusCode::OK)
}

/// The form's fields as the API's input. Blank text clears a field; an unreadable
/// number becomes one the rules refuse, so the user sees why.
fn form_input(form: &HashMap<String, String>) -> SystemInput {
    let number =
        |name: &str| value(form, name).map(|v| v.replace(',', "").parse::<i64>().unwrap_or(-1));
    let text = |name: &str| form.contains_key(name).then(|| value(form, name));
    SystemInput {
        version: value(form, "version").and_then(|v| v.parse().ok()),
        name: form.get("name").cloned(),
        department_id: number("department_id"),
        platform: value(form, "platform"),
        phase: value(form, "phase"),
        built_by: value(form, "built_by"),
        workflow_before: text("workflow_before"),
        workflow_after: text("workflow_after"),
        hours_saved_per_year: form
            .contains_key("hours_saved_per_year")
            .then(|| number("hours_saved_per_year")),
        cost_saved_per_year: form
            .contains_key("cost_saved_per_year")
            .then(|| number("cost_saved_per_year")),
        holds_personal_data: Some(form.get("holds_personal_data").is_some_and(|v| v == "true")),
        manual_location: text("manual_location"),
        owner_id: None,
        owner_email: value(form, "owner_email"),
        review_on: text("review_on"),
        // Only a form that offers the confirmation (to the DX office) sends it.
        verified: form
            .contains_key("verification")
            .then(|| form.get("verified").is_some_and(|v| v == "true")),
        development_cost_avoided: form
            .contains_key("development_cost_avoided")
            .then(|| number("development_cost_avoided")),
        other_effects: super::other_effects::from_form(form),
    }
}

/// The form's values from an entry.
fn draft_of(system: &System) -> HashMap<String, String> {
    let mut draft = HashMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            draft.insert(k.to_string(), v);
        }
    };
    put("name", Some(system.name.clone()));
    put("department_id", Some(system.department_id.to_string()));
    put("platform", Some(system.platform.as_str().to_string()));
    put("phase", Some(system.phase.as_str().to_string()));
    put("built_by", Some(system.built_by.as_str().to_string()));
    put("workflow_before", system.workflow_before.clone());
    put("workflow_after", system.workflow_after.clone());
    put(
        "hours_saved_per_year",
        system.hours_saved_per_year.map(|n| n.to_string()),
    );
    put(
        "cost_saved_per_year",
        system.cost_saved_per_year.map(|n| n.to_string()),
    );
    put(
        "holds_personal_data",
        system.holds_personal_data.then(|| "true".to_string()),
    );
    put("manual_location", system.manual_location.clone());
    put("review_on", system.review_on.map(|d| d.to_string()));
    put("version", Some(system.version.to_string()));
    put("verified", system.verified.then(|| "true".to_string()));
    put(
        "development_cost_avoided",
        system.development_cost_avoided.map(|n| n.to_string()),
    );
    super::other_effects::draft(&system.other_effects(), &mut draft);
    draft
}

impl FormPage<'_> {
    fn divisions(&self) -> &[Department] {
        match self.editing {
            Some(form) => &form.divisions,
            None => self.new_divisions,
        }
    }
}

/// What the form page shows besides the draft.
struct FormPage<'a> {
    /// The entry being edited, with the user's choices; `None` registers a new one.
    editing: Option<&'a EditForm>,
    /// Registering: the divisions the user may choose (none for a requester,
    /// who registers for their own division).
    new_divisions: &'a [Department],
    draft: &'a HashMap<String, String>,
    flash: Value,
    similar: Vec<Value>,
    status: StatusCode,
}

async fn form_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    page: FormPage<'_>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let get = |name: &str| page.draft.get(name).map(String::as_str);
    let editing = page.editing.map(|form| &form.system);
    let phases: Vec<&str> = match editing {
        Some(s) => Phase::ALL
            .iter()
            .filter(|p| s.phase.may_move_to(**p))
            .map(|p| p.as_str())
            .collect(),
        None => vec!["trial", "verification", "production"],
    };
    let mut data = base(req, Some(user), locale, "ledger.new_heading");
    if let Some(s) = editing {
        data["title"] = json!(t(
            locale,
            "ledger.edit_heading",
            &[("name", s.name.clone())]
        ));
    }
    data["heading"] = data["title"].clone();
    data["action"] = json!(match editing {
        Some(s) => format!("/systems/{}", s.id),
        None => "/systems".into(),
    });
    data["editing"] = json!(editing.map(|s| s.id));
    data["may_verify"] = json!(page.editing.is_some_and(|form| form.may_verify));
    data["departments"] = json!(division_options(
        page.divisions(),
        page.draft.get("department_id").map(String::as_str)
    ));
    data["flash"] = page.flash;
    data["similar"] = json!(page.similar);
    data["draft"] = json!({
        "name": get("name"), "workflow_before": get("workflow_before"), "workflow_after": get("workflow_after"),
        "hours_saved_per_year": get("hours_saved_per_year"), "cost_saved_per_year": get("cost_saved_per_year"),
        "holds_personal_data": get("holds_personal_data") == Some("true"),
        "manual_location": get("manual_location"), "review_on": get("review_on"), "version": get("version"),
        "verified": get("verified") == Some("true"),
        "owner_email": get("owner_email"),
        "development_cost_avoided": get("development_cost_avoided"),
    });
    data["other_effects"] = json!(super::other_effects::rows(page.draft));
    data["platforms"] = json!(options(
        &wire(Platform::ALL, Platform::as_str),
        "ledger.platform",
        get("platform"),
        locale
    ));
    data["phases"] = json!(options(&phases, "ledger.phase", get("phase"), locale));
    data["built_by"] = json!(options(
        &wire(BuiltBy::ALL, BuiltBy::as_str),
        "ledger.built_by",
        Some(get("built_by").unwrap_or("in_house")),
        locale
    ));
    render_status(state, req, "system_form", data, page.status)
}

#[get("/systems/new")]
pub async fn new_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let divisions = state
        .call(&user, |_, conn, caller| ledger::new_form(conn, caller))
        .await?;
    let draft = HashMap::new();
    form_page(
        &state,
        &req,
        &user,
        FormPage {
            editing: None,
            new_divisions: &divisions,
            draft: &draft,
            flash: Value::Null,
            similar: vec![],
            status: StatusCode::OK,
        },
    )
    .await
}

fn similar_json(locale: Locale, found: &[Similar]) -> Vec<Value> {
    found
        .iter()
        .map(|s| {
            json!({"id": s.system.id, "name": s.system.name, "department": s.department,
                   "platform_label": label(locale, "platform", s.system.platform.as_str()),
                   "phase_label": label(locale, "phase", s.system.phase.as_str())})
        })
        .collect()
}

/// Registering first shows similar existing systems; saving needs the user's
/// confirmation that theirs is a different one.
#[post("/systems")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let draft = form.into_inner();
    let input = form_input(&draft);
    let confirmed = draft.get("confirm_different").is_some_and(|v| v == "true");
    let result = state
        .call(&user, move |_, conn, caller| {
            ledger::register(conn, caller, &input, None, !confirmed)
        })
        .await;
    let (flash, similar, status) = match result {
        Ok(Registration::Registered { system, .. }) => {
            return Ok(redirect(&format!("/systems/{}", system.id)))
        }
        Ok(Registration::LooksLike(found)) => {
            (Value::Null, similar_json(locale, &found), StatusCode::OK)
        }
        Err(e) if e.kind == Kind::Unprocessable => (
            labelled_error_flash(&e, locale, "ledger.field"),
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => return Err(e),
    };
    let divisions = state
        .call(&user, |_, conn, caller| ledger::new_form(conn, caller))
        .await?;
    form_page(
        &state,
        &req,
        &user,
        FormPage {
            editing: None,
            new_divisions: &divisions,
            draft: &draft,
            flash,
            similar,
            status,
        },
    )
    .await
}

#[get("/systems/effects")]
pub async fn effects_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let filter = params.filter()?;
    let page = state
        .call(&user, move |app, conn, caller| {
            ledger::effects_page(app, conn, caller, &filter)
        })
        .await?;
    let e = page.effects;
    let names: HashMap<String, String> = page
        .names
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    let choices = division_options(&page.divisions, params.department.as_deref());
    let year_label = |key: &str| {
        let year: i32 = key.parse().unwrap_or_default();
        t(
            locale,
            "ledger.fiscal_year",
            &[("year", key.to_string()), ("era", era_label(year))],
        )
    };
    let table = |rows: &[Breakdown], name: &dyn Fn(&str) -> String| -> Vec<Value> {
        rows.iter()
            .map(|b| json!({"label": name(&b.key), "systems": b.systems, "in_production": b.in_production,
                            "hours": grouped(b.hours_saved), "cost": grouped(b.cost_saved)}))
            .collect()
    };
    let years: Vec<String> = e
        .by_fiscal_year
        .iter()
        .map(|b| year_label(&b.key))
        .collect();
    let hours = Series {
        name: t(locale, "ledger.field.hours_saved_per_year", &[]),
        values: e
            .by_fiscal_year
            .iter()
            .map(|b| b.hours_saved as f64)
            .collect(),
    };
    let chart = columns(
        &t(locale, "ledger.effects.chart_label", &[]),
        &years,
        &[hours],
    );
    let mut data = base(&req, Some(&user), locale, "ledger.effects_heading");
    let rate = e.in_house_rate.to_string();
    data["totals"] = json!({
        "systems": e.systems,
        "in_house": t(locale, "ledger.effects.in_house_of", &[("in_house", e.in_house.to_string()), ("systems", e.in_operation.to_string()), ("rate", rate)]),
        "hours": t(locale, "ledger.effects.hours_value", &[("hours", grouped(e.hours_saved))]),
        "staff": t(locale, "ledger.effects.staff_value", &[("staff", e.full_time_staff.to_string()), ("per", grouped(e.hours_per_person_year))]),
        "cost": t(locale, "ledger.effects.cost_value", &[("cost", grouped(e.cost_saved))]),
        "target": t(locale, "ledger.effects.target_value", &[("hours", grouped(e.hours_saved)), ("target", grouped(e.target_hours)), ("progress", e.target_progress.to_string())]),
        "progress": e.target_progress,
        // The progress bar is 600 units wide; past the target it stays full.
        "progress_width": (e.target_progress.min(100.0) * 6.0).round() as i64,
    });
    data["unconfirmed"] = json!((e.unconfirmed.systems > 0).then(|| {
        t(
            locale,
            "ledger.effects.unconfirmed",
            &[
                ("systems", e.unconfirmed.systems.to_string()),
                ("hours", grouped(e.unconfirmed.hours_saved)),
                ("cost", grouped(e.unconfirmed.cost_saved)),
            ],
        )
    }));
    data["by_phase"] = json!(e
        .by_phase
        .iter()
        .map(|p| json!({"phase": p.phase, "label": label(locale, "phase", &p.phase), "systems": p.systems}))
        .collect::<Vec<_>>());
    data["chart"] = json!(chart);
    data["by_year"] = json!(table(&e.by_fiscal_year, &|k| year_label(k)));
    data["by_division"] = json!(table(&e.by_division, &|k| names
        .get(k)
        .cloned()
        .unwrap_or_default()));
    data["by_platform"] = json!(table(&e.by_platform, &|k| label(locale, "platform", k)));
    data["departments"] = json!(choices);
    render_status(&state, &req, "systems_effects", data, StatusCode::OK)
}

#[get("/systems/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<SystemId>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let id = id.into_inner();
    let entry = state
        .call(&user, move |_, conn, caller| ledger::get(conn, caller, id))
        .await?;
    let (s, linked, history, names, department) = (
        entry.system,
        entry.consultations,
        entry.history,
        entry.names,
        entry.department,
    );
    let today = state.app.today();
    let history: Vec<Value> = history
        .iter()
        .map(|e| {
            let payload: Value = serde_json::from_str(&e.payload).unwrap_or_default();
            let changes: Vec<Value> = match (e.event.as_str(), payload.as_object()) {
                ("register", _) | (_, None) => vec![],
                (_, Some(map)) => map
                    .iter()
                    .filter(|(k, _)| k.as_str() != "phase")
                    .map(|(k, v)| {
                        let show = |v: &Value| match v {
                            Value::Null => "—".to_string(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        json!({"label": t(locale, &format!("ledger.field.{k}"), &[]),
                               "before": show(&v[0]), "after": show(&v[1])})
                    })
                    .collect(),
            };
            json!({
                "event": e.event, "label": t(locale, &format!("ledger.history.{}", e.event), &[]),
                "actor": e.actor_id.and_then(|a| names.get(&a).cloned()).unwrap_or_default(),
                "from": e.from_phase.as_deref().map(|p| label(locale, "phase", p)),
                "to": label(locale, "phase", &e.to_phase),
                "at": time(&state, locale, Some(e.created_at)), "at_iso": state.format_time(e.created_at),
                "changes": changes,
            })
        })
        .collect();
    let mut data = base(&req, Some(&user), locale, "ledger.heading");
    data["title"] = json!(s.name.clone());
    data["flags"] = json!(flags(locale, &s, today));
    data["can_edit"] = json!(entry.may_edit);
    let other_effects = super::other_effects::view(&s.other_effects());
    data["s"] = json!({
        "id": s.id, "name": s.name, "department": department,
        "platform_label": label(locale, "platform", s.platform.as_str()),
        "phase": s.phase.as_str(), "phase_label": label(locale, "phase", s.phase.as_str()),
        "built_by_label": label(locale, "built_by", s.built_by.as_str()),
        "workflow_before": s.workflow_before, "workflow_after": s.workflow_after,
        "hours": s.hours_saved_per_year.map(grouped), "cost": s.cost_saved_per_year.map(grouped),
        "development_cost_avoided": s.development_cost_avoided.map(grouped),
        "personal_data": t(locale, if s.holds_personal_data { "ledger.yes" } else { "ledger.no" }, &[]),
        "manual_location": s.manual_location, "owner": names.get(&s.owner_id).cloned().unwrap_or_default(),
        "review_on": s.review_on.map(|d| d.to_string()),
        "production_at": time(&state, locale, s.production_at),
    });
    data["consultations"] = json!(linked
        .iter()
        .map(|c| json!({"id": c.id, "number": c.number, "title": c.title,
                        "state": c.state, "state_label": t(locale, &format!("state.{}", c.state.as_str()), &[])}))
        .collect::<Vec<_>>());
    data["history"] = json!(history);
    data["other_effects"] = json!(other_effects);
    render_status(&state, &req, "system", data, StatusCode::OK)
}

#[get("/systems/{id}/edit")]
pub async fn edit_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<SystemId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let form = state
        .call(&user, move |_, conn, caller| {
            ledger::edit_form(conn, caller, id)
        })
        .await?;
    let draft = draft_of(&form.system);
    form_page(
        &state,
        &req,
        &user,
        FormPage {
            editing: Some(&form),
            new_divisions: &[],
            draft: &draft,
            flash: Value::Null,
            similar: vec![],
            status: StatusCode::OK,
        },
    )
    .await
}

#[post("/systems/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<SystemId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let id = id.into_inner();
    let draft = form.into_inner();
    let input = form_input(&draft);
    let result = state
        .call(&user, move |_, conn, caller| {
            ledger::edit(conn, caller, id, &input)
        })
        .await;
    let (flash, status) = match result {
        Ok(_) => return Ok(redirect(&format!("/systems/{id}"))),
        Err(e) if matches!(e.kind, Kind::Unprocessable | Kind::Conflict) => {
            (labelled_error_flash(&e, locale, "ledger.field"), e.status())
        }
        Err(e) => return Err(e),
    };
    let form = state
        .call(&user, move |_, conn, caller| {
            ledger::edit_form(conn, caller, id)
        })
        .await?;
    let mut draft = draft;
    // The form is redrawn on the current version, so a conflict can be resolved by saving again.
    draft.insert("version".into(), form.system.version.to_string());
    form_page(
        &state,
        &req,
        &user,
        FormPage {
            editing: Some(&form),
            new_divisions: &[],
            draft: &draft,
            flash,
            similar: vec![],
            status,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(14_400_000), "14,400,000");
        assert_eq!(grouped(-1_920), "-1,920");
    }
}
