//! The OpenAPI document at `/api/openapi.json`, generated from the handlers'
//! annotations so it cannot drift from the code.

use actix_web::{get, HttpResponse};
use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, attachments, auth, consultations, dashboard, directory, effects, error, export, faq,
    health, inquiries, metrics, systems,
};
use crate::db::departments::Department;
use crate::domain;
use crate::reports::dashboard as report;

#[derive(OpenApi)]
#[openapi(
    info(title = "digicon API", description = "DX consultation desk. Errors are application/problem+json."),
    paths(
        health::healthz, health::readyz, metrics::metrics,
        auth::issue_token, auth::logout, auth::end_my_sessions, auth::end_user_sessions, auth::request_password_reset,
        directory::me, directory::update_me, directory::list_users, directory::create_user, directory::get_user,
        directory::update_user, directory::list_departments, directory::create_department,
        directory::update_department,
        consultations::list, consultations::similar, consultations::create, consultations::get, consultations::update,
        consultations::transition, consultations::timeline, consultations::comment,
        attachments::attach_to_consultation, attachments::attach_to_inquiry,
        attachments::list_for_consultation, attachments::download,
        faq::list, faq::create, faq::suggest, faq::solved, faq::get, faq::update,
        inquiries::list, inquiries::askers, inquiries::create, inquiries::get, inquiries::transition, inquiries::timeline,
        inquiries::comment,
        admin::list_outbox, admin::retry_outbox, admin::import_departments, admin::import_users,
        dashboard::get, dashboard::helpdesk, dashboard::dashboard_csv, dashboard::dashboard_xlsx, export::consultations_csv, export::consultations_xlsx,
        export::systems_csv, export::systems_xlsx,
        systems::list, systems::similar, systems::effects_report, systems::create, systems::get,
        systems::update,
        effects::report, effects::report_csv, effects::report_xlsx, effects::close, effects::reopen,
        effects::get_settings, effects::put_settings,
    ),
    components(schemas(
        error::Problem, auth::TokenRequest, auth::TokenResponse, auth::PasswordResetResponse,
        directory::UserView, directory::DepartmentRef, directory::UserPage, directory::DepartmentList,
        domain::directory::UserUpdate, domain::directory::DepartmentUpdate, domain::directory::MeUpdate, Department,
        admin::OutboxView, admin::OutboxPage,
        crate::app::reorg::ImportReport, crate::app::reorg::PlannedChange, domain::reorg::Problem,
        domain::directory::NewUserInput, domain::directory::NewDepartmentInput,
        consultations::ConsultationView, consultations::ConsultationPage,         consultations::TimelineItem, consultations::Timeline, domain::consultation::CommentInput, consultations::CommentView,
        consultations::SimilarItem, consultations::SimilarList,
        domain::consultation::NewConsultationInput, domain::consultation::ConsultationEditInput,
        domain::workflow::TransitionInput, domain::Role, domain::State, domain::Event,
        domain::Category, domain::Priority,
        inquiries::InquiryView, inquiries::InquiryPageView, inquiries::InquiryTimeline, inquiries::InquiryCommentView, inquiries::AskerView, inquiries::AskerList,
        attachments::AttachmentView, attachments::AttachmentList,
        faq::FaqView, faq::FaqList, faq::FaqSuggestions, faq::AnsweredInquiry, faq::SolvedInput,
        domain::faq::FaqInput,
        domain::inquiry::NewInquiryInput, domain::inquiry::InquiryTransitionInput, domain::inquiry::InquiryState,
        domain::inquiry::InquiryEvent, domain::inquiry::Topic, domain::inquiry::Channel,
        report::Dashboard, crate::reports::helpdesk::HelpdeskReport, crate::reports::helpdesk::StreamMonth,
        crate::reports::helpdesk::KeyCount, report::YearTotals, report::MonthCount, report::Count, report::StageTime,
        report::Ratio, report::Satisfaction, report::FiledResolved, report::DivisionRow, report::SeRow,
        systems::SystemView, systems::SystemPage, systems::LinkedConsultation, systems::SystemHistoryItem,
        systems::SimilarSystem, systems::SimilarSystemList, domain::ledger::SystemInput,
        effects::ReportView, effects::YearEventView, effects::YearInput,
        crate::reports::annual::YearFigures, crate::reports::annual::YearLine, crate::reports::annual::BureauFigures,
        crate::reports::annual::SystemFigures, crate::reports::annual::OtherEffectLine,
        domain::savings::Targets, domain::savings::TargetsInput, domain::savings::Progress,
        domain::savings::OtherEffect, domain::savings::OtherEffectInput,
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
    HttpResponse::Ok().json(document_json())
}

/// The document as served: the handlers' annotations, completed with what every
/// operation answers by construction rather than by its handler's choice, so the
/// two cannot drift apart:
/// - path parameters (`{id}`: every id is an integer) and 404 for them (the path
///   extractor answers 404 to an id that is not a number);
/// - 401 wherever a bearer token is required (the `CurrentUser` extractor);
/// - 400 wherever there are query parameters (unreadable ones are refused before
///   the handler, see `params::unreadable_query`), each of which may be empty
///   (`allowEmptyValue`: a form's "any" option; `params` reads it as no filter);
/// - 400, 413 and 422 wherever there is a JSON body (`ApiJson`);
/// - problems as `application/problem+json`, which is what `AppError` sends.
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    complete(&mut doc);
    doc
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let names: Vec<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, operation) in item.iter_mut() {
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
            if let Some(list) = parameters.as_array_mut() {
                for name in &names {
                    let declared = list
                        .iter()
                        .any(|p| p["in"] == "path" && p["name"] == name.as_str());
                    if !declared {
                        list.push(json!({
                            "name": name, "in": "path", "required": true,
                            "description": "the record's id",
                            "schema": {"type": "integer", "format": "int64"}
                        }));
                    }
                }
            }
            let mut has_query = false;
            if let Some(list) = operation["parameters"].as_array_mut() {
                for parameter in list.iter_mut().filter(|p| p["in"] == "query") {
                    has_query = true;
                    parameter["allowEmptyValue"] = Value::Bool(true);
                }
            }
            if operation["parameters"]
                .as_array()
                .is_some_and(Vec::is_empty)
            {
                operation.remove("parameters");
            }
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let has_body = operation.contains_key("requestBody");
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            let Some(responses) = responses.as_object_mut() else {
                continue;
            };
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description));
            };
            if secured {
                add("401", "no token, or one that is not valid (any more)");
            }
            if !names.is_empty() {
                add("404", "not found, or not visible to the caller");
            }
            if has_query {
                add("400", "a parameter that cannot be read");
            }
            if has_body {
                add("400", "malformed JSON, or not application/json");
                add("413", "the body is over the limit");
                add("422", "a field of the wrong type or breaking a rule");
            }
            for response in responses.values_mut() {
                let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
                else {
                    continue;
                };
                let is_problem = content
                    .get("application/json")
                    .and_then(|c| c["schema"]["$ref"].as_str())
                    .is_some_and(|r| r.ends_with("/Problem"));
                if is_problem {
                    if let Some(media) = content.remove("application/json") {
                        content.insert("application/problem+json".into(), media);
                    }
                }
            }
        }
    }
}
