//! The effects report page (one printable A4 page per fiscal year, in Japanese
//! with 令和 years), its close and reopen buttons, and the admin's targets page.
//! They call the same `app::effects` use cases as the API.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::consultations::{labelled_error_flash, time, value};
use super::other_effects::figure;
use super::systems::grouped;
use super::{base, check_csrf, page_locale, redirect, render_status};
use crate::app::effects::{self, Report};
use crate::domain::fiscal::era_label;
use crate::domain::savings::{Progress, Targets, TargetsInput};
use crate::i18n::{t, Locale};
use crate::reports::annual::TABLES;
use crate::reports::charts::{bars, columns, Series};
use crate::web::auth::CurrentUser;
use crate::web::effects::ReportParams;
use crate::web::error::{AppError, Kind};
use crate::web::AppState;

type Form = super::form::PageForm;

fn year_label(locale: Locale, year: i32) -> String {
    t(
        locale,
        "ledger.fiscal_year",
        &[("year", year.to_string()), ("era", era_label(year))],
    )
}

fn progress_view(locale: Locale, p: &Progress, unit: &str) -> Value {
    json!({
        "text": t(locale, &format!("report.progress.{unit}"), &[
            ("achieved", grouped(p.achieved)), ("target", grouped(p.target)), ("percent", p.percent.to_string())]),
        "pace": p.needed_per_year.map(|n| t(locale, &format!("report.pace.{unit}"), &[
            ("needed", grouped(n)), ("years", p.years_left.to_string())])),
        "reached": p.remaining == 0,
        // The bar is 600 units wide; past the target it stays full.
        "width": (p.percent.min(100.0) * 6.0).round() as i64,
        "percent": p.percent,
    })
}

fn report_data(state: &AppState, locale: Locale, r: &Report) -> Value {
    let f = &r.figures;
    let years: Vec<String> = r.years.iter().map(|y| era_label(y.fiscal_year)).collect();
    let by_year = columns(
        &t(locale, "report.chart.hours_by_year", &[]),
        &years,
        &[Series {
            name: t(locale, "report.column.hours_saved", &[]),
            values: r.years.iter().map(|y| y.hours_saved as f64).collect(),
        }],
    );
    let bureaus: Vec<String> = f.by_bureau.iter().map(|b| b.bureau.clone()).collect();
    let by_bureau = bars(
        &t(locale, "report.chart.hours_by_bureau", &[]),
        &bureaus,
        &[Series {
            name: t(locale, "report.column.hours_saved", &[]),
            values: f.by_bureau.iter().map(|b| b.hours_saved as f64).collect(),
        }],
    );
    let previous = r.previous.as_ref().map(|p| {
        t(
            locale,
            "report.previous",
            &[
                ("year", era_label(p.fiscal_year)),
                ("hours", grouped(p.hours_saved)),
                ("change", {
                    let d = f.hours_saved - p.hours_saved;
                    format!("{}{}", if d >= 0 { "+" } else { "" }, grouped(d))
                }),
            ],
        )
    });
    json!({
        "fiscal_year": f.fiscal_year,
        "heading": t(locale, "report.heading", &[("era", era_label(f.fiscal_year)), ("year", f.fiscal_year.to_string())]),
        "closed": r.closed_at.is_some(),
        "closed_at": time(state, locale, r.closed_at),
        "in_house": t(locale, "report.in_house_value", &[
            ("in_house", f.in_house.to_string()), ("systems", f.in_operation.to_string()), ("rate", f.in_house_rate.to_string())]),
        "in_operation": f.in_operation,
        "hours": grouped(f.hours_saved),
        "staff": t(locale, "report.staff_value", &[("staff", f.full_time_staff.to_string()), ("per", grouped(f.hours_per_person_year))]),
        "cost_saved": grouped(f.cost_saved),
        "development_cost_avoided": grouped(f.development_cost_avoided),
        "effect_amount": grouped(f.effect_amount),
        "cumulative_amount": grouped(r.cumulative_amount),
        "cumulative_label": t(locale, "report.summary.cumulative_amount", &[("start", era_label(r.targets.start_fiscal_year))]),
        "target_label": t(locale, "report.target_label", &[("year", era_label(r.targets.target_fiscal_year))]),
        "hours_progress": progress_view(locale, &r.hours_progress, "hours"),
        "amount_progress": r.amount_progress.as_ref().map(|p| progress_view(locale, p, "amount")),
        "previous": previous,
        "unconfirmed": (f.unconfirmed_systems > 0).then(|| t(locale, "report.unconfirmed", &[
            ("systems", f.unconfirmed_systems.to_string()), ("hours", grouped(f.unconfirmed_hours))])),
        "chart_years": by_year,
        "chart_bureaus": by_bureau,
        "has_bureaus": !f.by_bureau.is_empty(),
        "top_systems": f.top_systems.iter().enumerate().map(|(i, s)| json!({
            "rank": i + 1, "name": s.name, "department": s.department, "months": s.months,
            "hours": grouped(s.hours_saved), "cost": grouped(s.cost_saved)})).collect::<Vec<_>>(),
        "other_effects": f.other_effects.iter().map(|l| json!({
            "system": l.system, "what": l.effect.what, "before": figure(l.effect.before), "after": figure(l.effect.after),
            "unit": l.effect.unit, "note": l.effect.note})).collect::<Vec<_>>(),
        "years": r.years.iter().map(|y| json!({
            "label": year_label(locale, y.fiscal_year), "hours": grouped(y.hours_saved),
            "amount": grouped(y.effect_amount), "cumulative": grouped(y.cumulative_amount),
            "closed": y.closed})).collect::<Vec<_>>(),
        "history": r.history.iter().map(|e| json!({
            "label": t(locale, &format!("report.history.{}", e.action), &[]),
            "actor": e.actor.clone().unwrap_or_else(|| t(locale, "report.history.cli", &[])),
            "reason": e.reason, "at": time(state, locale, Some(e.at))})).collect::<Vec<_>>(),
        "exports": TABLES.iter().map(|name| json!({
            "href": format!("/api/v1/effects/report.csv?fiscal_year={}&table={name}", f.fiscal_year),
            "label": t(locale, &format!("report.sheet.{name}"), &[])})).collect::<Vec<_>>(),
        "xlsx": format!("/api/v1/effects/report.xlsx?fiscal_year={}", f.fiscal_year),
        "may_close": r.may_close && r.closed_at.is_none(),
        "may_reopen": r.may_reopen && r.closed_at.is_some(),
    })
}

async fn report_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    year: Option<i64>,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let found = state
        .call(user, move |app, conn, caller| {
            effects::report(app, conn, caller, year)
        })
        .await?;
    let mut data = base(req, Some(user), locale, "report.title");
    data["r"] = report_data(state, locale, &found);
    data["flash"] = flash;
    render_status(state, req, "effects_report", data, status)
}

#[get("/effects/report")]
pub async fn report(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    let year = params.year()?;
    report_page(&state, &req, &user, year, Value::Null, StatusCode::OK).await
}

/// The year a form names: a number, else a value the use case refuses.
fn form_year(form: &std::collections::HashMap<String, String>) -> Option<i64> {
    value(form, "fiscal_year").map(|v| v.parse().unwrap_or(-1))
}

/// After a close or reopen: back to the year's report, or the report with why not.
async fn after(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    year: Option<i64>,
    result: Result<(), AppError>,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    match result {
        Ok(()) => Ok(redirect(&format!(
            "/effects/report?fiscal_year={}",
            year.unwrap_or_default()
        ))),
        Err(e) if matches!(e.kind, Kind::Unprocessable | Kind::Conflict) => {
            let shown = year.filter(|y| (2000..=2100).contains(y));
            let flash = labelled_error_flash(&e, locale, "report.field");
            report_page(&state, &req, &user, shown, flash, e.status()).await
        }
        Err(e) => Err(e),
    }
}

#[post("/effects/close")]
pub async fn close(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let year = form_year(&form);
    let result = state
        .call(&user, move |app, conn, caller| {
            effects::close(app, conn, Some(caller), year).map(|_| ())
        })
        .await;
    after(state, req, user, year, result).await
}

#[post("/effects/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let year = form_year(&form);
    let reason = value(&form, "reason");
    let result = state
        .call(&user, move |_, conn, caller| {
            effects::reopen(conn, Some(caller), year, reason.as_deref())
        })
        .await;
    after(state, req, user, year, result).await
}

fn settings_page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    draft: Value,
    flash: Value,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let mut data = base(req, Some(user), locale, "report.settings.title");
    data["draft"] = draft;
    data["flash"] = flash;
    render_status(state, req, "effects_settings", data, status)
}

fn targets_draft(t: &Targets) -> Value {
    json!({"start_fiscal_year": t.start_fiscal_year, "target_hours": t.target_hours,
           "target_amount": t.target_amount, "target_fiscal_year": t.target_fiscal_year})
}

#[get("/admin/effects")]
pub async fn settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let targets = state
        .call(&user, |app, conn, caller| {
            effects::settings(app, conn, caller)
        })
        .await?;
    settings_page(
        &state,
        &req,
        &user,
        targets_draft(&targets),
        Value::Null,
        StatusCode::OK,
    )
}

#[post("/admin/effects")]
pub async fn save_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let number =
        |name: &str| value(&form, name).map(|v| v.replace(',', "").parse::<i64>().unwrap_or(-1));
    let input = TargetsInput {
        start_fiscal_year: number("start_fiscal_year"),
        target_hours: number("target_hours"),
        target_amount: number("target_amount"),
        target_fiscal_year: number("target_fiscal_year"),
    };
    let draft = json!({"start_fiscal_year": value(&form, "start_fiscal_year"), "target_hours": value(&form, "target_hours"),
                       "target_amount": value(&form, "target_amount"), "target_fiscal_year": value(&form, "target_fiscal_year")});
    let result = state
        .call(&user, move |_, conn, caller| {
            effects::save_settings(conn, caller, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect("/admin/effects?saved=1")),
        Err(e) if e.kind == Kind::Unprocessable => {
            let flash = labelled_error_flash(&e, locale, "report.field");
            settings_page(&state, &req, &user, draft, flash, e.status())
        }
        Err(e) => Err(e),
    }
}
