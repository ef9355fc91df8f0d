//! Exports: `GET /api/v1/export/consultations.csv` and `.xlsx`, with the list's
//! filters, for managers, the DX office and admins. The response streams: rows are
//! read a page at a time with the list's keyset cursor and never all held at once.
//! `GET /api/v1/export/systems.csv` and `.xlsx`: the system ledger with its list's
//! filters, for everyone who may read the ledger (a city's ledger is thousands of
//! entries at most, so it is one page).
//!
//! `csv_stream` and `xlsx_file` take any paged query, so other tables can be
//! exported the same way.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use futures_util::stream;

use super::auth::CurrentUser;
use super::error::{AppError, Problem};
use super::params::{parse_list, SystemListParams};
use super::AppState;
use crate::app::ledger;
use crate::app::reports;
use crate::db::consultations::{Consultation, Cursor};
use crate::db::DbConn;
use crate::i18n::{t, Locale};
use crate::reports::export::{csv_header, csv_rows, Cell, Row, XlsxTable};
use crate::reports::ledger::export_table;

/// Rows read per database round trip.
const PAGE: i64 = 1000;

/// One page of rows and where the next begins (`None`: this was the last).
pub type Page<C> = (Vec<Row>, Option<C>);

/// A paged query: given where to start (`None`: the beginning), the next page.
pub type Fetch<C> = Arc<dyn Fn(&mut DbConn, Option<C>) -> Result<Page<C>, AppError> + Send + Sync>;

fn attachment(filename: &str) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(filename.to_string())],
    }
}

/// A CSV download (UTF-8 with BOM) streamed page by page.
pub fn csv_stream<C: Send + 'static>(
    state: web::Data<AppState>,
    filename: &str,
    headers: Vec<String>,
    fetch: Fetch<C>,
) -> HttpResponse {
    // The state is the cursor of the next page to read: `Some(None)` is the first
    // page (which carries the header row), `None` means done.
    let body = stream::unfold(Some(None), move |next: Option<Option<C>>| {
        let state = state.clone();
        let fetch = fetch.clone();
        let headers = headers.clone();
        async move {
            let cursor = next?;
            let first = cursor.is_none();
            let page = state
                .db(move |conn| {
                    let (rows, next) = fetch(conn, cursor)?;
                    let mut bytes = if first {
                        csv_header(&headers).map_err(AppError::internal)?
                    } else {
                        Vec::new()
                    };
                    bytes.extend(csv_rows(&rows).map_err(AppError::internal)?);
                    Ok((bytes, next))
                })
                .await;
            Some(match page {
                Ok((bytes, next)) => (Ok(Bytes::from(bytes)), next.map(Some)),
                // Headers are sent already: all that is left is to cut the download.
                Err(e) => (Err(actix_web::Error::from(e)), None),
            })
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(attachment(filename))
        .streaming(body)
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An XLSX download. The workbook is written in constant memory to a temporary
/// file (an XLSX is a zip whose directory comes last, so it cannot go out before
/// it is complete), which is then streamed.
pub async fn xlsx_file<C: Send + 'static>(
    state: web::Data<AppState>,
    filename: &str,
    sheet: String,
    headers: Vec<String>,
    fetch: Fetch<C>,
) -> Result<HttpResponse, AppError> {
    let file = state
        .db(move |conn| {
            let mut table = XlsxTable::new(&sheet, &headers).map_err(AppError::internal)?;
            let mut cursor = None;
            loop {
                let (rows, next) = fetch(conn, cursor)?;
                table.append(&rows).map_err(AppError::internal)?;
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let mut file = tempfile::tempfile().map_err(AppError::internal)?;
            table.finish(&mut file).map_err(AppError::internal)?;
            file.seek(SeekFrom::Start(0)).map_err(AppError::internal)?;
            Ok(file)
        })
        .await?;
    let body = stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            let n = file.read(&mut chunk)?;
            chunk.truncate(n);
            Ok::<_, std::io::Error>((chunk, file))
        })
        .await;
        match read {
            Ok(Ok((chunk, _))) if chunk.is_empty() => None,
            Ok(Ok((chunk, file))) => Some((Ok(Bytes::from(chunk)), Some(file))),
            Ok(Err(e)) => Some((Err(actix_web::Error::from(AppError::internal(e))), None)),
            Err(e) => Some((Err(actix_web::Error::from(AppError::from(e))), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(XLSX_TYPE)
        .insert_header(attachment(filename))
        .streaming(body))
}

/// The export's columns, as catalog keys under `export.consultation.`.
const COLUMNS: [&str; 15] = [
    "number",
    "title",
    "category",
    "priority",
    "state",
    "department",
    "requester",
    "assignee",
    "created_at",
    "hearing_at",
    "assigned_at",
    "resolved_at",
    "closed_at",
    "resolution_due_at",
    "rating",
];

/// Everything a consultation row is turned into cells with.
struct RowContext {
    locale: Locale,
    zone: chrono_tz::Tz,
    departments: HashMap<i64, String>,
    people: HashMap<i64, String>,
}

impl RowContext {
    fn time(&self, at: Option<NaiveDateTime>) -> Cell {
        at.map(|at| local_time(self.zone, at)).into()
    }

    fn row(&self, c: Consultation) -> Row {
        let label = |group: &str, value: &str| t(self.locale, &format!("{group}.{value}"), &[]);
        let name = |map: &HashMap<i64, String>, id: i64| map.get(&id).cloned().unwrap_or_default();
        vec![
            c.number.into(),
            c.title.into(),
            label("category", c.category.as_str()).into(),
            label("priority", c.priority.as_str()).into(),
            label("state", c.state.as_str()).into(),
            name(&self.departments, c.department_id).into(),
            name(&self.people, c.requester_id).into(),
            c.assignee_id.map(|id| name(&self.people, id)).into(),
            self.time(Some(c.created_at)),
            self.time(c.hearing_at),
            self.time(c.assigned_at),
            self.time(c.resolved_at),
            self.time(c.closed_at),
            self.time(c.resolution_due_at),
            c.rating.map(i64::from).into(),
        ]
    }
}

/// The caller's export query with the names its rows show, and the paged fetch.
async fn consultation_export(
    state: &web::Data<AppState>,
    user: CurrentUser,
    req: &HttpRequest,
) -> Result<(Vec<String>, Fetch<Cursor>), AppError> {
    let mut filter = parse_list(req.query_string())?;
    filter.limit = PAGE;
    let locale = user.locale;
    let mut export = state
        .call(&user, move |_, conn, caller| {
            reports::consultation_export(conn, caller, filter)
        })
        .await?;
    let context = RowContext {
        locale,
        zone: state.settings.timezone,
        departments: std::mem::take(&mut export.departments),
        people: std::mem::take(&mut export.people),
    };
    let headers = COLUMNS
        .iter()
        .map(|c| t(locale, &format!("export.consultation.{c}"), &[]))
        .collect();
    let fetch: Fetch<Cursor> = Arc::new(move |conn, after| {
        let (rows, next) = reports::export_page(conn, &export, after)?;
        Ok((rows.into_iter().map(|c| context.row(c)).collect(), next))
    });
    Ok((headers, fetch))
}

/// The consultation list as CSV (UTF-8 with BOM), with the list's filters.
#[utoipa::path(get, path = "/api/v1/export/consultations.csv", tag = "reports", security(("bearer" = [])),
    params(super::params::ListParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/export/consultations.csv")]
pub async fn consultations_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (headers, fetch) = consultation_export(&state, user, &req).await?;
    Ok(csv_stream(state, "consultations.csv", headers, fetch))
}

/// The consultation list as an Excel workbook, with the list's filters.
#[utoipa::path(get, path = "/api/v1/export/consultations.xlsx", tag = "reports", security(("bearer" = [])),
    params(super::params::ListParams),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
              (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/api/v1/export/consultations.xlsx")]
pub async fn consultations_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let locale = user.locale;
    let (headers, fetch) = consultation_export(&state, user, &req).await?;
    let sheet = t(locale, "export.consultation.sheet", &[]);
    xlsx_file(state, "consultations.xlsx", sheet, headers, fetch).await
}

/// A stored (UTC) time as the display zone's wall clock, to the minute.
fn local_time(zone: chrono_tz::Tz, at: NaiveDateTime) -> String {
    at.and_utc()
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The ledger entries the caller may see that pass the list's filters, as one
/// page. They are read before the response starts, so bad filters get a 400.
async fn system_export(
    state: &web::Data<AppState>,
    user: CurrentUser,
    params: SystemListParams,
) -> Result<(Vec<String>, Fetch<()>), AppError> {
    let locale = user.locale;
    let zone = state.settings.timezone;
    let today = state.app.today();
    let filter = params.filter()?;
    let export = state
        .call(&user, move |app, conn, caller| {
            ledger::export(app, conn, caller, &filter)
        })
        .await?;
    let time = |at: NaiveDateTime| local_time(zone, at);
    let (headers, rows) = export_table(
        locale,
        &export.systems,
        &export.departments,
        &export.people,
        today,
        &time,
    );
    let fetch: Fetch<()> = Arc::new(move |_, _| Ok((rows.clone(), None)));
    Ok((headers, fetch))
}

/// The system ledger as CSV (UTF-8 with BOM), with the ledger list's filters.
#[utoipa::path(get, path = "/api/v1/export/systems.csv", tag = "systems", security(("bearer" = [])),
    params(SystemListParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
#[get("/api/v1/export/systems.csv")]
pub async fn systems_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let (headers, fetch) = system_export(&state, user, params.into_inner()).await?;
    Ok(csv_stream(state, "systems.csv", headers, fetch))
}

/// The system ledger as an Excel workbook, with the ledger list's filters.
#[utoipa::path(get, path = "/api/v1/export/systems.xlsx", tag = "systems", security(("bearer" = [])),
    params(SystemListParams),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
              (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/api/v1/export/systems.xlsx")]
pub async fn systems_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<SystemListParams>,
) -> Result<HttpResponse, AppError> {
    let sheet = t(user.locale, "ledger.heading", &[]);
    let (headers, fetch) = system_export(&state, user, params.into_inner()).await?;
    xlsx_file(state, "systems.xlsx", sheet, headers, fetch).await
}
