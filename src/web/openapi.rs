//! The OpenAPI document at `/api/openapi.json`, generated from the handlers'
//! annotations so it cannot drift from the code.

use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, auth, consultations, dashboard, directory, error, export, health, metrics, systems,
};
use crate::db::departments::Department;
use crate::domain;
use crate::reports::dashboard as report;

#[derive(OpenApi)]
#[openapi(
    info(title = "digicon API", description = "DX consultation desk. Errors are application/problem+json."),
    paths(
        health::healthz, health::readyz, metrics::metrics,
        auth::issue_token, auth::logout, auth::end_my_sessions, auth::end_user_sessions,
        directory::me, directory::update_me, directory::list_users, directory::create_user, directory::get_user,
        directory::update_user, directory::list_departments, directory::create_department,
        directory::update_department,
        consultations::list, consultations::similar, consultations::create, consultations::get, consultations::update,
        consultations::transition, consultations::timeline, consultations::comment,
        admin::list_outbox, admin::retry_outbox,
        dashboard::get, export::consultations_csv, export::consultations_xlsx,
        export::systems_csv, export::systems_xlsx,
        systems::list, systems::similar, systems::effects_report, systems::create, systems::get,
        systems::update,
    ),
    components(schemas(
        error::Problem, auth::TokenRequest, auth::TokenResponse,
        directory::UserView, directory::DepartmentRef, directory::UserPage, directory::DepartmentList,
        domain::directory::UserUpdate, domain::directory::DepartmentUpdate, domain::directory::MeUpdate, Department,
        admin::OutboxView, admin::OutboxPage,
        domain::directory::NewUserInput, domain::directory::NewDepartmentInput,
        consultations::ConsultationView, consultations::ConsultationPage,         consultations::TimelineItem, consultations::Timeline, domain::consultation::CommentInput, consultations::CommentView,
        consultations::SimilarItem, consultations::SimilarList,
        domain::consultation::NewConsultationInput, domain::consultation::ConsultationEditInput,
        domain::workflow::TransitionInput, domain::Role, domain::State, domain::Event,
        domain::Category, domain::Priority,
        report::Dashboard, report::YearTotals, report::MonthCount, report::Count, report::StageTime,
        report::Ratio, report::Satisfaction, report::FiledResolved, report::DivisionRow, report::SeRow,
        systems::SystemView, systems::SystemPage, systems::LinkedConsultation, systems::SystemHistoryItem,
        systems::SimilarSystem, systems::SimilarSystemList, domain::ledger::SystemInput,
        domain::ledger::Platform, domain::ledger::Phase, domain::ledger::BuiltBy,
        crate::reports::ledger::Effects, crate::reports::ledger::Breakdown, crate::reports::ledger::PhaseCount,
        crate::reports::ledger::Unconfirmed,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[get("/api/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
