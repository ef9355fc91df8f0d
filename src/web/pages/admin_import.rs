//! The admin pages' CSV upload (the April reorganisation). Uploading the file
//! previews it (a dry run of `app::reorg::import`); the preview carries the
//! file's text in its confirm form, whose post plans it again against the
//! directory as it is then and applies it only if it is still clean.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{base, check_csrf, page_locale, render_status};
use crate::app::reorg::{self, ImportReport, Importing};
use crate::domain::reorg::decode;
use crate::i18n::{t, Locale};
use crate::web::auth::CurrentUser;
use crate::web::error::AppError;
use crate::web::import_upload::ImportForm;
use crate::web::AppState;

/// Where each import posts and where its list page is.
fn pages_of(what: Importing) -> (&'static str, &'static str, &'static str) {
    match what {
        Importing::Departments => (
            "/admin/departments/import",
            "/admin/departments",
            "page.title.admin_departments",
        ),
        Importing::Users => (
            "/admin/users/import",
            "/admin/users",
            "page.title.admin_users",
        ),
    }
}

async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    payload: web::Payload,
    what: Importing,
) -> Result<HttpResponse, AppError> {
    let form = ImportForm::read(&req, payload).await?;
    check_csrf(&req, form.fields.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    // The confirm form sends the text back; the first post sends the file.
    let apply = form.fields.get("apply").map(String::as_str) == Some("true");
    let bytes = match (&form.file, form.fields.get("content")) {
        (Some(file), _) if !apply => file.clone(),
        (None, Some(content)) => content.clone().into_bytes(),
        _ => vec![],
    };
    let file = bytes.clone();
    let report = state
        .call(&user, move |app, conn, caller| {
            reorg::import(app, conn, caller, what, &file, !apply)
        })
        .await?;
    if report.applied {
        state.departments.clear();
    }
    let status = if report.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    // What the confirm form carries: the file as text, once it is readable.
    let content = decode(&bytes).unwrap_or_default();
    let data = preview(&req, &user, locale, what, &report, &content);
    render_status(&state, &req, "admin_import", data, status)
}

fn preview(
    req: &HttpRequest,
    user: &CurrentUser,
    locale: Locale,
    what: Importing,
    report: &ImportReport,
    content: &str,
) -> Value {
    let (action, back, title) = pages_of(what);
    let problems: Vec<Value> = report
        .problems
        .iter()
        .map(|p| json!({"line": p.line, "field": p.field, "message": t(locale, &p.message, &[])}))
        .collect();
    let changes: Vec<Value> = report
        .changes
        .iter()
        .map(|c| {
            let values: Vec<String> = c.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let action = t(locale, &format!("import.action.{}", c.action), &[]);
            json!({"line": c.line, "action": action, "target": c.target, "values": values.join(", ")})
        })
        .collect();
    let mut data = base(req, Some(user), locale, title);
    data["import"] = json!({
        "action": action,
        "back": back,
        "problems": problems,
        "changes": changes,
        "count": report.changes.len(),
        "unchanged": report.unchanged,
        "applied": report.applied && !report.changes.is_empty(),
        "can_apply": !report.applied && report.problems.is_empty() && !report.changes.is_empty(),
        "content": content,
    });
    data
}

/// Preview (a file) or apply (the confirmed text) a departments file.
#[post("/admin/departments/import")]
pub async fn departments_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    upload(state, req, user, payload, Importing::Departments).await
}

/// Preview (a file) or apply (the confirmed text) a users file.
#[post("/admin/users/import")]
pub async fn users_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    upload(state, req, user, payload, Importing::Users).await
}
