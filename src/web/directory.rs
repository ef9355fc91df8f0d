//! The caller (`/api/v1/me`) and the admin's directory of users and departments.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::AppState;
use crate::db::departments::{self, Department, DepartmentChanges};
use crate::db::users::{self, User, UserChanges};
use crate::db::{self, DbConn};
use crate::directory::{self as service, DirectoryError};
use crate::domain::directory::{parse_locale, NewDepartmentInput, NewUserInput};
use crate::domain::{password, FieldErrors, Role};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentRef {
    pub id: i64,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub department: DepartmentRef,
    /// `ja` or `en`.
    pub locale: String,
    pub active: bool,
    /// Optional mail the user turned off.
    pub mail_opt_out: Vec<String>,
}

impl UserView {
    pub fn load(conn: &mut DbConn, user: User) -> Result<UserView, AppError> {
        let department = departments::find(conn, user.department_id)?
            .ok_or_else(|| AppError::internal(format!("user {} has no department", user.id)))?;
        Ok(UserView {
            id: user.id,
            name: user.name,
            email: user.email,
            role: user.role,
            department: DepartmentRef {
                id: department.id,
                code: department.code,
                name: department.name,
            },
            locale: user.locale,
            active: user.active,
            mail_opt_out: user
                .mail_opt_out
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

impl From<DirectoryError> for AppError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Invalid(errors) => AppError::invalid(errors),
            DirectoryError::Failed(cause) => AppError::internal(cause),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentList {
    pub items: Vec<Department>,
    pub next_cursor: Option<String>,
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
#[get("/api/v1/me")]
pub async fn me(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let view = state
        .db(move |conn| {
            let row = users::find(conn, user.id)?.ok_or_else(AppError::not_found)?;
            UserView::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// 1 to 200, default 50.
    pub limit: Option<String>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Users, by id.
#[utoipa::path(get, path = "/api/v1/users", tag = "directory", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = UserPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let limit = super::consultations::parse_limit(params.limit.as_deref())?;
    let after = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::invalid_parameter("cursor", c))?,
        ),
    };
    let page = state
        .db(move |conn| {
            let mut rows = users::list(conn, after, limit + 1)?;
            let next = (rows.len() as i64 > limit).then(|| {
                rows.truncate(limit as usize);
                rows.last().map(|u| u.id.to_string())
            });
            let items = rows
                .into_iter()
                .map(|u| UserView::load(conn, u))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(UserPage {
                items,
                next_cursor: next.flatten(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "directory", request_body = NewUserInput, security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<NewUserInput>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let view = state
        .db(move |conn| {
            let created = service::add_user(conn, &body.value)?;
            UserView::load(conn, created)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", view.id)))
        .json(view))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let id = id.into_inner();
    let view = state
        .db(move |conn| {
            let row = users::find(conn, id)?.ok_or_else(AppError::not_found)?;
            UserView::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<String>,
    pub department_id: Option<i64>,
    pub locale: Option<String>,
    /// `false` deactivates: the user can no longer log in; their records stay.
    pub active: Option<bool>,
    pub password: Option<String>,
}

/// Edit or deactivate a user.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "directory", request_body = UserUpdate, security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<UserUpdate>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let id = id.into_inner();
    let input = body.value;
    let view = state
        .db(move |conn| {
            users::find(conn, id)?.ok_or_else(AppError::not_found)?;
            let mut errors = FieldErrors::new();
            let name = match &input.name {
                Some(n) => errors.required_text("name", Some(n), 100),
                None => None,
            };
            let role = input.role.as_deref().and_then(|r| {
                let role = Role::parse(r.trim());
                if role.is_none() {
                    errors.add("role", "validation.choice");
                }
                role
            });
            let locale = input
                .locale
                .as_deref()
                .map(|l| parse_locale(&mut errors, Some(l)));
            if let Some(d) = input.department_id {
                if departments::find(conn, d)?.is_none() {
                    errors.add("department_id", "validation.unknown_department");
                }
            }
            let password_hash = match input.password.as_deref() {
                Some(p) if p.chars().count() < password::MIN_CHARS => {
                    errors.add("password", "validation.too_short");
                    None
                }
                Some(p) => Some(password::hash(p).map_err(AppError::internal)?),
                None => None,
            };
            errors.into_result()?;
            users::update(
                conn,
                id,
                &UserChanges {
                    name,
                    role,
                    department_id: input.department_id,
                    locale,
                    active: input.active,
                    password_hash,
                    mail_opt_out: None,
                    updated_at: Some(db::now()),
                },
            )?;
            let row = users::find(conn, id)?.ok_or_else(AppError::not_found)?;
            UserView::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The department tree, ordered by code.
#[utoipa::path(get, path = "/api/v1/departments", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = DepartmentList), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/departments")]
pub async fn list_departments(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let items = state.db(|conn| Ok(departments::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(DepartmentList {
        items,
        next_cursor: None,
    }))
}

/// Create a department.
#[utoipa::path(post, path = "/api/v1/departments", tag = "directory", request_body = NewDepartmentInput, security(("bearer" = [])),
    responses((status = 201, body = Department), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/departments")]
pub async fn create_department(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<NewDepartmentInput>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let department = state
        .db(move |conn| Ok(service::add_department(conn, &body.value)?))
        .await?;
    state.departments.clear();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/departments/{}", department.id)))
        .json(department))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DepartmentUpdate {
    pub name: Option<String>,
    pub active: Option<bool>,
}

/// Rename or deactivate a department.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "directory", request_body = DepartmentUpdate, security(("bearer" = [])),
    responses((status = 200, body = Department), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/departments/{id}")]
pub async fn update_department(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    body: ApiJson<DepartmentUpdate>,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let id = id.into_inner();
    let input = body.value;
    let department = state
        .db(move |conn| {
            departments::find(conn, id)?.ok_or_else(AppError::not_found)?;
            let mut errors = FieldErrors::new();
            let name = match &input.name {
                Some(n) => errors.required_text("name", Some(n), 100),
                None => None,
            };
            errors.into_result()?;
            if name.is_some() || input.active.is_some() {
                departments::update(
                    conn,
                    id,
                    &DepartmentChanges {
                        name,
                        active: input.active,
                    },
                )?;
            }
            departments::find(conn, id)?.ok_or_else(AppError::not_found)
        })
        .await?;
    state.departments.clear();
    Ok(HttpResponse::Ok().json(department))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MeUpdate {
    /// `ja` or `en`.
    pub locale: Option<String>,
    /// Optional mail the caller does not want: any of `reminder`, `comment`.
    pub mail_opt_out: Option<Vec<String>>,
}

/// Change one's own language and mail preferences.
#[utoipa::path(patch, path = "/api/v1/me", tag = "directory", request_body = MeUpdate, security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ApiJson<MeUpdate>,
) -> Result<HttpResponse, AppError> {
    let input = body.value;
    let view = state
        .db(move |conn| {
            let mut errors = FieldErrors::new();
            let locale = input
                .locale
                .as_deref()
                .map(|l| parse_locale(&mut errors, Some(l)));
            let opt_out = input.mail_opt_out.as_ref().map(|kinds| {
                if kinds
                    .iter()
                    .any(|k| !crate::notify::OPTIONAL_KINDS.contains(&k.as_str()))
                {
                    errors.add("mail_opt_out", "validation.mail_kind");
                }
                let mut kinds = kinds.clone();
                kinds.sort();
                kinds.dedup();
                kinds.join(",")
            });
            errors.into_result()?;
            users::update(
                conn,
                user.id,
                &UserChanges {
                    locale,
                    mail_opt_out: opt_out,
                    updated_at: Some(db::now()),
                    ..Default::default()
                },
            )?;
            let row = users::find(conn, user.id)?.ok_or_else(AppError::not_found)?;
            UserView::load(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
