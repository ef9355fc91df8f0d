//! HTTP: the JSON API under `/api/v1`, the pages, health checks and the OpenAPI
//! document. Both doors are thin: a handler authenticates, parses, calls one
//! `app` use case through [`AppState::call`] and renders. No rule lives here.

pub mod admin;
pub mod assets;
pub mod attachments;
pub mod auth;
pub mod consultations;
pub mod dashboard;
pub mod department_list;
pub mod directory;
pub mod error;
pub mod export;
pub mod faq;
pub mod health;
pub mod import_upload;
pub mod inquiries;

pub mod effects;
pub mod json;
pub mod login_limits;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod systems;

use actix_web::{web, HttpRequest};
use chrono::{NaiveDateTime, SecondsFormat, TimeZone};

use std::sync::Arc;

use crate::app::{self, App, Caller};
use crate::db::{DbConn, Pool};
use crate::i18n::Locale;
use crate::settings::Settings;
use auth::JwtKeys;
use error::AppError;
use login_limits::{LoginLimits, TrustedProxies};

/// The language a request asks for in `Accept-Language`; Japanese when it names
/// neither Japanese nor English.
pub fn accept_language(headers: &actix_web::http::header::HeaderMap) -> Locale {
    headers
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language)
        .unwrap_or_default()
}

/// Shared by every worker thread.
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub app: Arc<App>,
    pub jwt: JwtKeys,
    pub login_limits: LoginLimits,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The page templates.
    pub pages: handlebars::Handlebars<'static>,
    /// The department list for pages, reloaded at most every 30 s.
    pub departments: department_list::DepartmentCache,
    /// Request counts and latencies for `/metrics`.
    pub http_metrics: metrics::HttpMetrics,
}

impl AppState {
    pub fn new(pool: Pool, settings: Settings, app: Arc<App>) -> Result<AppState, String> {
        Ok(AppState {
            pages: pages::registry()?,
            departments: department_list::DepartmentCache::default(),
            app,
            jwt: JwtKeys::new(&settings.jwt_secret),
            login_limits: LoginLimits::new(settings.login_attempts_per_address_per_minute),
            trusted_proxies: TrustedProxies::new(settings.trusted_proxies.clone()),
            pool,
            settings,
            http_metrics: metrics::HttpMetrics::default(),
        })
    }

    /// Runs database work on the blocking pool with a pooled connection; the one
    /// way handlers reach the database.
    pub async fn db<F, T>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// Runs a use case for the signed-in user on the blocking pool: the one way a
    /// handler reaches the rules.
    pub async fn call<F, T>(&self, user: &auth::CurrentUser, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&App, &mut DbConn, &Caller) -> app::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let app = self.app.clone();
        let (id, role, department_id) = (user.id, user.role, user.department_id);
        let session = Some(user.session.clone());
        self.db(move |conn| {
            let caller = Caller::load(conn, id, role, department_id, session)?;
            Ok(work(&app, conn, &caller)?)
        })
        .await
    }

    /// Runs a use case that needs no signed-in user (signing in, say).
    pub async fn run<F, T>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&App, &mut DbConn) -> app::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let app = self.app.clone();
        self.db(move |conn| Ok(work(&app, conn)?)).await
    }

    /// Every department, from the shared copy while it is fresh.
    pub async fn departments(&self) -> Result<Arc<department_list::Departments>, AppError> {
        if let Some(departments) = self.departments.fresh() {
            return Ok(departments);
        }
        let all = self
            .db(|conn| Ok(crate::db::departments::list(conn)?))
            .await?;
        let departments = Arc::new(
            department_list::Departments::new(all, &self.pages).map_err(AppError::internal)?,
        );
        self.departments.store(departments.clone());
        Ok(departments)
    }

    /// A stored UTC time as RFC 3339 in the display zone (`2025-04-01T09:00:00+09:00`).
    pub fn format_time(&self, at: NaiveDateTime) -> String {
        self.settings
            .timezone
            .from_utc_datetime(&at)
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    }
}

/// Every route of the application.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(metrics::metrics)
        .service(openapi::document)
        .service(auth::issue_token)
        .service(auth::logout)
        .service(auth::end_my_sessions)
        .service(auth::end_user_sessions)
        .service(auth::request_password_reset)
        .service(directory::me)
        .service(directory::update_me)
        .service(admin::list_outbox)
        .service(admin::retry_outbox)
        .service(admin::import_departments)
        .service(admin::import_users)
        .service(directory::list_users)
        .service(directory::create_user)
        .service(directory::get_user)
        .service(directory::update_user)
        .service(directory::list_departments)
        .service(directory::create_department)
        .service(directory::update_department)
        .service(attachments::attach_to_consultation)
        .service(attachments::attach_to_inquiry)
        .service(attachments::list_for_consultation)
        .service(attachments::download)
        .service(consultations::list)
        .service(consultations::similar)
        .service(consultations::create)
        .service(consultations::get)
        .service(consultations::update)
        .service(consultations::transition)
        .service(consultations::timeline)
        .service(consultations::comment)
        .service(faq::list)
        .service(faq::create)
        .service(faq::suggest)
        .service(faq::solved)
        .service(faq::get)
        .service(faq::update)
        .service(inquiries::list)
        .service(inquiries::askers)
        .service(inquiries::create)
        .service(inquiries::get)
        .service(inquiries::transition)
        .service(inquiries::timeline)
        .service(inquiries::comment)
        .service(systems::list)
        .service(systems::similar)
        .service(systems::effects_report)
        .service(systems::create)
        .service(systems::get)
        .service(systems::update)
        .service(effects::report)
        .service(effects::report_csv)
        .service(effects::report_xlsx)
        .service(effects::close)
        .service(effects::reopen)
        .service(effects::get_settings)
        .service(effects::put_settings)
        .service(assets::asset)
        .service(pages::auth::start)
        .service(pages::auth::login_form)
        .service(pages::auth::login)
        .service(pages::auth::logout)
        .service(pages::auth::language)
        .service(pages::auth::account)
        .service(pages::auth::change_password)
        .service(pages::auth::end_sessions)
        .service(pages::password_reset::show)
        .service(pages::password_reset::set)
        .service(pages::consultations::list)
        .service(pages::consultations::new_form)
        .service(pages::consultations::create)
        .service(pages::consultations::show)
        .service(pages::consultations::fire)
        .service(pages::consultations::comment)
        .service(pages::faq::list)
        .service(pages::faq::create)
        .service(pages::faq::show)
        .service(pages::faq::update)
        .service(pages::faq::solved)
        .service(pages::inquiries::list)
        .service(pages::inquiries::new_form)
        .service(pages::inquiries::create)
        .service(pages::inquiries::show)
        .service(pages::inquiries::fire)
        .service(pages::inquiries::comment)
        .service(pages::systems::list)
        .service(pages::systems::new_form)
        .service(pages::systems::effects_page)
        .service(pages::systems::create)
        .service(pages::systems::show)
        .service(pages::systems::edit_form)
        .service(pages::systems::update)
        .service(pages::admin::users_list)
        .service(pages::admin::users_create)
        // Before `/admin/users/{id}`, which would take `import` for an id.
        .service(pages::admin_import::users_import)
        .service(pages::admin::users_update)
        .service(pages::admin::users_end_sessions)
        .service(pages::admin::users_password_reset)
        .service(pages::admin::departments_list)
        .service(pages::admin::departments_create)
        .service(pages::admin_import::departments_import)
        .service(pages::admin::departments_update)
        .service(dashboard::helpdesk)
        .service(dashboard::get)
        .service(dashboard::dashboard_csv)
        .service(dashboard::dashboard_xlsx)
        .service(export::consultations_csv)
        .service(export::consultations_xlsx)
        .service(export::systems_csv)
        .service(export::systems_xlsx)
        .service(pages::dashboard::page)
        .service(pages::dashboard::helpdesk)
        .service(pages::effects::report)
        .service(pages::effects::close)
        .service(pages::effects::reopen)
        .service(pages::effects::settings)
        .service(pages::effects::save_settings)
        .default_service(web::to(not_found));
}

async fn not_found(_req: HttpRequest) -> Result<&'static str, AppError> {
    Err(AppError::not_found())
}
