//! The admin's pages: users and departments (create, edit, deactivate). They call
//! the same `app::directory` use cases as the API.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::consultations::{labelled_error_flash, value};
use super::{base, check_csrf, page_locale, redirect, render_status};
use crate::app::{directory, password_reset};
use crate::domain::directory::{DepartmentUpdate, NewDepartmentInput, NewUserInput, UserUpdate};
use crate::domain::ids::{DepartmentId, UserId};
use crate::domain::Role;
use crate::i18n::t;
use crate::web::auth::CurrentUser;
use crate::web::error::{AppError, Kind};
use crate::web::AppState;

type Form = super::form::PageForm;

/// A refusal shown on the form (with what was typed), or else as an error page.
fn form_flash(error: AppError, locale: crate::i18n::Locale) -> Result<Value, AppError> {
    if error.kind == Kind::Unprocessable {
        Ok(labelled_error_flash(&error, locale, "field"))
    } else {
        Err(error)
    }
}

async fn users_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    flash: Value,
    draft: &HashMap<String, String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let (all, departments) = state
        .call(user, |_, conn, caller| {
            directory::users_overview(conn, caller)
        })
        .await?;
    let names: HashMap<i64, String> = departments.iter().map(|d| (d.id, d.name.clone())).collect();
    let role_options = |selected: &str| -> Vec<Value> {
        Role::ALL
            .iter()
            .map(|r| json!({"value": r.as_str(), "label": t(locale, &format!("role.{}", r.as_str()), &[]), "selected": r.as_str() == selected}))
            .collect()
    };
    let department_options = |selected: Option<i64>| -> Vec<Value> {
        departments
            .iter()
            .filter(|d| d.active)
            .map(|d| json!({"value": d.id, "label": format!("{} ({})", d.name, d.code), "selected": Some(d.id) == selected}))
            .collect()
    };
    let rows: Vec<Value> = all
        .iter()
        .map(|u| {
            json!({
                "id": u.id, "name": u.name, "email": u.email, "active": u.active, "locale": u.locale,
                "locale_label": t(locale, &format!("lang.{}", u.locale), &[]),
                // An admin does not switch themselves off (the use case refuses it too).
                "is_self": u.id == user.id,
                // Directory accounts set their password in the directory.
                "directory": u.is_directory_account(),
                "role_label": t(locale, &format!("role.{}", u.role.as_str()), &[]),
                "department": names.get(&u.department_id).cloned().unwrap_or_default(),
                "roles": role_options(u.role.as_str()), "departments": department_options(Some(u.department_id)),
            })
        })
        .collect();
    let mut data = base(req, Some(user), locale, "page.title.admin_users");
    data["flash"] = flash;
    data["reset_sent"] = json!(req.query_string() == "reset_sent=1");
    data["users"] = json!(rows);
    data["draft"] = json!({"email": draft.get("email"), "name": draft.get("name")});
    data["new_roles"] = json!(role_options(
        draft.get("role").map(String::as_str).unwrap_or("requester")
    ));
    data["new_departments"] = json!(department_options(
        draft.get("department_id").and_then(|d| d.parse().ok())
    ));
    render_status(state, req, "admin_users", data, status)
}

#[get("/admin/users")]
pub async fn users_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    users_page(
        &state,
        &req,
        &user,
        Value::Null,
        &HashMap::new(),
        StatusCode::OK,
    )
    .await
}

#[post("/admin/users")]
pub async fn users_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let input = NewUserInput {
        email: value(&form, "email"),
        name: value(&form, "name"),
        role: value(&form, "role"),
        department_id: value(&form, "department_id").map(|d| d.parse().unwrap_or(-1)),
        locale: value(&form, "locale"),
        password: form.get("password").cloned(),
    };
    let result = state
        .call(&user, move |_, conn, caller| {
            directory::create_user(conn, caller, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect("/admin/users")),
        Err(e) => {
            let flash = form_flash(e, locale)?;
            users_page(
                &state,
                &req,
                &user,
                flash,
                &form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[post("/admin/users/{id}")]
pub async fn users_update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<UserId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let id = id.into_inner();
    // A field the form does not send stays as it is; one it sends is checked as
    // the API checks it (a blank name is an error, not "unchanged").
    let input = UserUpdate {
        name: form.get("name").cloned(),
        role: value(&form, "role"),
        department_id: value(&form, "department_id").map(|d| d.parse().unwrap_or(-1)),
        locale: value(&form, "locale"),
        active: value(&form, "active").map(|a| a == "true"),
        password: form.get("password").cloned().filter(|p| !p.is_empty()),
    };
    let result = state
        .call(&user, move |_, conn, caller| {
            directory::update_user(conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(_) => Ok(redirect("/admin/users")),
        Err(e) => {
            let flash = form_flash(e, locale)?;
            users_page(
                &state,
                &req,
                &user,
                flash,
                &HashMap::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Mails the user a one-time link to set a new password.
#[post("/admin/users/{id}/password-reset")]
pub async fn users_password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<UserId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    state
        .call(&user, move |app, conn, caller| {
            password_reset::request(app, conn, caller, id)
        })
        .await?;
    Ok(redirect("/admin/users?reset_sent=1"))
}

async fn departments_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    flash: Value,
    draft: &HashMap<String, String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(req, Some(user));
    let all = state
        .call(user, |_, conn, caller| {
            directory::list_departments(conn, caller)
        })
        .await?;
    let parent_of: HashMap<i64, Option<i64>> = all.iter().map(|d| (d.id, d.parent_id)).collect();
    let name_of: HashMap<i64, String> = all.iter().map(|d| (d.id, d.name.clone())).collect();
    let depth = |id: i64| {
        let mut n = 0;
        let mut current = parent_of.get(&id).copied().flatten();
        // Bounded in case of a cycle made by hand in the database.
        while let Some(parent) = current.filter(|_| n < 8) {
            n += 1;
            current = parent_of.get(&parent).copied().flatten();
        }
        n
    };
    let rows: Vec<Value> = all
        .iter()
        .map(|d| {
            json!({
                "id": d.id, "code": d.code, "name": d.name, "active": d.active, "depth": depth(d.id),
                "kind_label": t(locale, &format!("kind.{}", d.kind), &[]),
                "parent": d.parent_id.and_then(|p| name_of.get(&p).cloned()).unwrap_or_default(),
            })
        })
        .collect();
    let mut data = base(req, Some(user), locale, "page.title.admin_departments");
    data["flash"] = flash;
    data["departments"] = json!(rows);
    data["draft"] = json!({"code": draft.get("code"), "name": draft.get("name")});
    data["parents"] = json!(all
        .iter()
        .filter(|d| d.active && d.kind != "section")
        .map(|d| json!({"value": d.id, "label": format!("{} ({})", d.name, d.code)}))
        .collect::<Vec<_>>());
    render_status(state, req, "admin_departments", data, status)
}

#[get("/admin/departments")]
pub async fn departments_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    departments_page(
        &state,
        &req,
        &user,
        Value::Null,
        &HashMap::new(),
        StatusCode::OK,
    )
    .await
}

#[post("/admin/departments")]
pub async fn departments_create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let input = NewDepartmentInput {
        code: value(&form, "code"),
        name: value(&form, "name"),
        parent_id: value(&form, "parent_id").map(|p| p.parse().unwrap_or(-1)),
        kind: None,
        is_dx_office: false,
    };
    let result = state
        .call(&user, move |_, conn, caller| {
            directory::create_department(conn, caller, &input)
        })
        .await;
    match result {
        Ok(_) => {
            state.departments.clear();
            Ok(redirect("/admin/departments"))
        }
        Err(e) => {
            let flash = form_flash(e, locale)?;
            departments_page(
                &state,
                &req,
                &user,
                flash,
                &form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[post("/admin/departments/{id}")]
pub async fn departments_update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<DepartmentId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let locale = page_locale(&req, Some(&user));
    let id = id.into_inner();
    let input = DepartmentUpdate {
        name: form.get("name").cloned(),
        active: value(&form, "active").map(|a| a == "true"),
    };
    let result = state
        .call(&user, move |_, conn, caller| {
            directory::update_department(conn, caller, id, &input)
        })
        .await;
    match result {
        Ok(_) => {
            state.departments.clear();
            Ok(redirect("/admin/departments"))
        }
        Err(e) => {
            let flash = form_flash(e, locale)?;
            departments_page(
                &state,
                &req,
                &user,
                flash,
                &HashMap::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Log a user out everywhere (a lost phone, a leaked password).
#[post("/admin/users/{id}/sessions/end")]
pub async fn users_end_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<UserId>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    let id = id.into_inner();
    state
        .call(&user, move |_, conn, caller| {
            crate::app::sessions::end_everywhere_for(conn, caller, id)
        })
        .await?;
    Ok(redirect("/admin/users"))
}
