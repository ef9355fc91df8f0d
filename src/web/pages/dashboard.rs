//! `/dashboard`: where every consultation in the manager's scope stands, as charts
//! drawn on the server with their numbers in a table beside each.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{base, page_locale, render};
use crate::i18n::{t, Locale};
use crate::reports::charts::{bars, columns, Series};
use crate::reports::dashboard::Dashboard;
use crate::web::auth::CurrentUser;
use crate::web::dashboard::load;
use crate::web::error::AppError;
use crate::web::params::parse_dashboard;
use crate::web::AppState;

/// Divisions drawn in the chart; the table below it lists them all.
const CHART_DIVISIONS: usize = 15;

fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn days(hours: Option<f64>) -> Option<f64> {
    hours.map(|h| (h / 24.0 * 10.0).round() / 10.0)
}

fn page_data(d: &Dashboard, locale: Locale) -> Value {
    let l = |key: &str| t(locale, key, &[]);
    let filed = l("dashboard.filed");
    let resolved = l("dashboard.resolved");
    let month_names: Vec<String> = d
        .months
        .iter()
        .map(|m| {
            m.month
                .get(5..)
                .unwrap_or_default()
                .trim_start_matches('0')
                .to_string()
        })
        .map(|m| t(locale, "dashboard.month_short", &[("month", m)]))
        .collect();
    let months_chart = columns(
        &l("dashboard.chart.months"),
        &month_names,
        &[
            Series {
                name: filed.clone(),
                values: d.months.iter().map(|m| m.filed as f64).collect(),
            },
            Series {
                name: resolved.clone(),
                values: d.months.iter().map(|m| m.resolved as f64).collect(),
            },
        ],
    );
    let backlog_states: Vec<String> = d
        .backlog_by_state
        .iter()
        .map(|c| l(&format!("state.{}", c.key)))
        .collect();
    let backlog_chart = bars(
        &l("dashboard.chart.backlog"),
        &backlog_states,
        &[Series {
            name: l("dashboard.open"),
            values: d.backlog_by_state.iter().map(|c| c.count as f64).collect(),
        }],
    );
    let stage_names: Vec<String> = d
        .stages
        .iter()
        .map(|s| l(&format!("dashboard.stage.{}", s.stage)))
        .collect();
    let stages_chart = bars(
        &l("dashboard.chart.stages"),
        &stage_names,
        &[
            Series {
                name: l("dashboard.median_days"),
                values: d
                    .stages
                    .iter()
                    .map(|s| days(s.median_hours).unwrap_or(0.0))
                    .collect(),
            },
            Series {
                name: l("dashboard.p90_days"),
                values: d
                    .stages
                    .iter()
                    .map(|s| days(s.p90_hours).unwrap_or(0.0))
                    .collect(),
            },
        ],
    );
    let top: Vec<_> = d.by_division.iter().take(CHART_DIVISIONS).collect();
    let divisions_chart = bars(
        &l("dashboard.chart.divisions"),
        &top.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        &[
            Series {
                name: filed.clone(),
                values: top.iter().map(|r| r.filed as f64).collect(),
            },
            Series {
                name: resolved.clone(),
                values: top.iter().map(|r| r.resolved as f64).collect(),
            },
        ],
    );
    json!({
        "d": d,
        "charts": {
            "months": months_chart,
            "backlog": backlog_chart,
            "stages": stages_chart,
            "divisions": divisions_chart,
        },
        "months": d.months.iter().zip(&month_names).map(|(m, name)| json!({"name": name, "filed": m.filed, "resolved": m.resolved})).collect::<Vec<_>>(),
        "backlog_states": d.backlog_by_state.iter().zip(&backlog_states).map(|(c, name)| json!({"name": name, "count": c.count})).collect::<Vec<_>>(),
        "backlog_ages": d.backlog_by_age.iter().map(|c| json!({"name": l(&format!("dashboard.age.{}", c.key)), "count": c.count})).collect::<Vec<_>>(),
        "stages": d.stages.iter().zip(&stage_names).map(|(s, name)| json!({"name": name, "count": s.count, "median": days(s.median_hours), "p90": days(s.p90_hours)})).collect::<Vec<_>>(),
        "states": d.by_state.iter().map(|c| json!({"name": l(&format!("state.{}", c.key)), "count": c.count})).collect::<Vec<_>>(),
        "categories": d.by_category.iter().map(|c| json!({"name": l(&format!("category.{}", c.key)), "filed": c.filed, "resolved": c.resolved})).collect::<Vec<_>>(),
        "sla": percent(d.sla.rate),
        "reopen": percent(d.reopen.rate),
        "satisfaction": d.satisfaction.mean.map(|m| format!("{m:.2}")).unwrap_or_else(|| "—".into()),
    })
}

#[get("/dashboard")]
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let params = parse_dashboard(req.query_string())?;
    let department = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "department")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let mut data = base(&req, Some(&user), locale, "dashboard.title");
    let dashboard = load(&state, &user, params).await?;
    let export_query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("fiscal_year", &dashboard.fiscal_year.to_string())
        .append_pair("department", department.as_deref().unwrap_or(""))
        .finish();
    if let (Value::Object(page), Value::Object(more)) = (&mut data, page_data(&dashboard, locale)) {
        page.extend(more);
        page.insert("department".into(), json!(department));
        page.insert("export_query".into(), json!(export_query));
    }
    render(&state, &req, "dashboard", data)
}

/// The desk's two streams side by side: the city's
/// "デジコンとヘルプデスクの相談件数", with the helpdesk's own figures.
#[get("/dashboard/helpdesk")]
pub async fn helpdesk(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let locale = page_locale(&req, Some(&user));
    let wanted = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "fiscal_year")
        .map(|(_, v)| v.to_string());
    let year = crate::web::dashboard::report_year(wanted.as_deref())?;
    let r = state
        .call(&user, move |app, conn, caller| {
            crate::app::reports::helpdesk(app, conn, caller, year)
        })
        .await?;
    let l = |key: &str| t(locale, key, &[]);
    let most = r
        .months
        .iter()
        .map(|m| m.inquiries.max(m.consultations))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = |n: i64| (n * 100 / most).max(if n > 0 { 1 } else { 0 });
    let mut data = base(&req, Some(&user), locale, "helpdesk_report.title");
    data["r"] = json!({
        "fiscal_year": r.fiscal_year, "label": r.label, "era_label": r.era_label,
        "previous": r.fiscal_year - 1, "next": r.fiscal_year + 1,
        "consultations": r.consultations, "inquiries": r.inquiries, "escalated": r.escalated,
        "deflected": r.deflected, "first_answers": r.first_answers,
        "first_answer_hours": r.first_answer_hours.map(|h| format!("{h:.1}")).unwrap_or_else(|| "—".into()),
        "months": r.months.iter().map(|m| json!({
            "month": m.month, "consultations": m.consultations, "inquiries": m.inquiries,
            "deflected": m.deflected, "c_width": width(m.consultations), "i_width": width(m.inquiries),
        })).collect::<Vec<_>>(),
        "topics": r.by_topic.iter().map(|k| json!({"name": l(&format!("inquiry.topic.{}", k.key)), "count": k.count})).collect::<Vec<_>>(),
        "channels": r.by_channel.iter().map(|k| json!({"name": l(&format!("inquiry.channel.{}", k.key)), "count": k.count})).collect::<Vec<_>>(),
        "ses": r.by_se.iter().map(|k| json!({"name": k.name.clone().unwrap_or_else(|| k.key.clone()), "count": k.count})).collect::<Vec<_>>(),
    });
    render(&state, &req, "helpdesk_report", data)
}
