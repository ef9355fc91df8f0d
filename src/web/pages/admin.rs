//! The admin's pages: users and departments (create, edit, deactivate). They use
//! the same checks as the command line and the API (`crate::directory`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{base, check_csrf, page_locale, redirect, render_status};
use crate::db::departments::{self, DepartmentChanges};
use crate::db::users::{self, UserChanges};
use crate::db::{self};
use crate::directory::{self as service, DirectoryError};
use crate::domain::directory::{NewDepartmentInput, NewUserInput};
use crate::domain::{FieldErrors, Role};
use crate::i18n::{t, Locale};
use crate::web::auth::CurrentUser;
use crate::web::error::AppError;
use crate::web::AppState;

type Form = web::Form<HashMap<String, String>>;

fn value(form: &HashMap<String, String>, name: &str) -> Option<String> {
    form.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn flash_for(errors: &FieldErrors, locale: Locale) -> Value {
    let fields: Vec<String> = errors
        .0
        .iter()
        .map(|(field, keys)| {
            let messages: Vec<String> = keys.iter().map(|k| t(locale, k, &[])).collect();
            format!(
                "{}: {}",
                t(locale, &format!("field.{field}"), &[]),
                messages.join(", ")
            )
        })
        .collect();
    json!({"kind": "error", "error": "invalid", "message": t(locale, "error.validation", &[]), "fields": fields})
}

fn directory_error(e: DirectoryError, locale: Locale) -> Result<Value, AppError> {
    match e {
        DirectoryError::Invalid(errors) => Ok(flash_for(&errors, locale)),
        DirectoryError::Failed(cause) => Err(AppError::internal(cause)),
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
    user.require(&[Role::Admin])?;
    let locale = page_locale(req, Some(user));
    let (all, departments) = state
        .db(|conn| Ok((users::list(conn, None, 10_000)?, departments::list(conn)?)))
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
                "role_label": t(locale, &format!("role.{}", u.role.as_str()), &[]),
                "department": names.get(&u.department_id).cloned().unwrap_or_default(),
                "roles": role_options(u.role.as_str()), "departments": department_options(Some(u.department_id)),
            })
        })
        .collect();
    let mut data = base(req, Some(user), locale, "page.title.admin_users");
    data["flash"] = flash;
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
    user.require(&[Role::Admin])?;
    let locale = page_locale(&req, Some(&user));
    let input = NewUserInput {
        email: value(&form, "email"),
        name: value(&form, "name"),
        role: value(&form, "role"),
        department_id: value(&form, "department_id").and_then(|d| d.parse().ok()),
        locale: value(&form, "locale"),
        password: form.get("password").cloned(),
    };
    match state
        .db(move |conn| Ok(service::add_user(conn, &input)))
        .await?
    {
        Ok(_) => Ok(redirect("/admin/users")),
        Err(e) => {
            let flash = directory_error(e, locale)?;
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
    id: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    user.require(&[Role::Admin])?;
    let locale = page_locale(&req, Some(&user));
    let id = id.into_inner();
    let mut errors = FieldErrors::new();
    let role = value(&form, "role").and_then(|r| {
        let role = Role::parse(&r);
        if role.is_none() {
            errors.add("role", "validation.choice");
        }
        role
    });
    let changes = UserChanges {
        name: value(&form, "name"),
        role,
        department_id: value(&form, "department_id").and_then(|d| d.parse().ok()),
        active: value(&form, "active").map(|a| a == "true"),
        updated_at: Some(db::now()),
        ..Default::default()
    };
    if !errors.is_empty() {
        return users_page(
            &state,
            &req,
            &user,
            flash_for(&errors, locale),
            &HashMap::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    state
        .db(move |conn| {
            users::find(conn, id)?.ok_or_else(AppError::not_found)?;
            if let Some(d) = changes.department_id {
                departments::find(conn, d)?.ok_or_else(|| {
                    AppError::invalid_field("department_id", "validation.unknown_department")
                })?;
            }
            users::update(conn, id, &changes)?;
            Ok(())
        })
        .await?;
    Ok(redirect("/admin/users"))
}

async fn departments_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: &CurrentUser,
    flash: Value,
    draft: &HashMap<String, String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let locale = page_locale(req, Some(user));
    let all = state.db(|conn| Ok(departments::list(conn)?)).await?;
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
    user.require(&[Role::Admin])?;
    let locale = page_locale(&req, Some(&user));
    let input = NewDepartmentInput {
        code: value(&form, "code"),
        name: value(&form, "name"),
        parent_id: value(&form, "parent_id").and_then(|p| p.parse().ok()),
        kind: None,
        is_dx_office: false,
    };
    match state
        .db(move |conn| Ok(service::add_department(conn, &input)))
        .await?
    {
        Ok(_) => {
            state.departments.clear();
            Ok(redirect("/admin/departments"))
        }
        Err(e) => {
            let flash = directory_error(e, locale)?;
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
    id: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, form.get("_csrf"))?;
    user.require(&[Role::Admin])?;
    let id = id.into_inner();
    let changes = DepartmentChanges {
        name: value(&form, "name"),
        active: value(&form, "active").map(|a| a == "true"),
    };
    state
        .db(move |conn| {
            departments::find(conn, id)?.ok_or_else(AppError::not_found)?;
            if changes.name.is_some() || changes.active.is_some() {
                departments::update(conn, id, &changes)?;
            }
            Ok(())
        })
        .await?;
    state.departments.clear();
    Ok(redirect("/admin/departments"))
}
