//! The caller (`/api/v1/me`) and the admin's directory of users and departments,
//! each one `app::directory` use case rendered as JSON.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::json::ApiJson;
use super::params::{parse_id_cursor, parse_limit};
use super::AppState;
use crate::app::directory::{self, Person};
use crate::db::departments::Department;
use crate::domain::directory::{
    DepartmentUpdate, MeUpdate, NewDepartmentInput, NewUserInput, UserUpdate,
};
use crate::domain::ids::{DepartmentId, UserId};
use crate::domain::Role;

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
    /// Where the password is checked: `local` (here) or `directory` (LDAP).
    pub auth_source: String,
}

impl From<Person> for UserView {
    fn from((user, department): Person) -> UserView {
        UserView {
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
            auth_source: user.auth_source,
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
    let person = state
        .call(&user, |_, conn, caller| directory::me(conn, caller))
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(person)))
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
    let limit = parse_limit(params.limit.as_deref())?;
    let after = parse_id_cursor(params.cursor.as_deref())?;
    let (people, next) = state
        .call(&user, move |_, conn, caller| {
            directory::list_users(conn, caller, after, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: people.into_iter().map(UserView::from).collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
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
    let input = body.value;
    let person = state
        .call(&user, move |_, conn, caller| {
            directory::create_user(conn, caller, &input)
        })
        .await?;
    let view = UserView::from(person);
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
    id: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let person = state
        .call(&user, move |_, conn, caller| {
            directory::get_user(conn, caller, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(person)))
}

/// Edit or deactivate a user.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "directory", request_body = UserUpdate, security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<UserId>,
    body: ApiJson<UserUpdate>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let person = state
        .call(&user, move |_, conn, caller| {
            directory::update_user(conn, caller, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(person)))
}

/// The department tree, ordered by code.
#[utoipa::path(get, path = "/api/v1/departments", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = DepartmentList), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/departments")]
pub async fn list_departments(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let items = state
        .call(&user, |_, conn, caller| {
            directory::list_departments(conn, caller)
        })
        .await?;
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
    let input = body.value;
    let department = state
        .call(&user, move |_, conn, caller| {
            directory::create_department(conn, caller, &input)
        })
        .await?;
    state.departments.clear();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/departments/{}", department.id)))
        .json(department))
}

/// Rename or deactivate a department.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "directory", request_body = DepartmentUpdate, security(("bearer" = [])),
    responses((status = 200, body = Department), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/departments/{id}")]
pub async fn update_department(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<DepartmentId>,
    body: ApiJson<DepartmentUpdate>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.value;
    let department = state
        .call(&user, move |_, conn, caller| {
            directory::update_department(conn, caller, id, &input)
        })
        .await?;
    state.departments.clear();
    Ok(HttpResponse::Ok().json(department))
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
    let person = state
        .call(&user, move |_, conn, caller| {
            directory::update_me(conn, caller, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(person)))
}
