//! Query parameters read into the use cases' typed filters, for the API, the
//! pages and the exports alike. A value that cannot be read is a 400 naming the
//! parameter; an empty value (a form's "any" option) means no filter.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::error::AppError;
use crate::app::consultations::list::{Assignee, DepartmentRef, ListFilter};
use crate::app::ledger::SystemFilter;
use crate::app::reports::DashboardParams;
use crate::db::consultations::Cursor;
use crate::domain::ledger::{Phase, Platform};
use crate::domain::queue::{Sort, View};
use crate::domain::validation::has_control_characters;
use crate::domain::{Category, Priority, State};

/// Whether a query string cannot be read as text: a bad `%` escape, bytes that are
/// not UTF-8, or a control character other than tab and line breaks in a name or
/// value. No parameter of the product takes one; answered with a 400 before any
/// handler runs (PostgreSQL refuses NUL in a parameter, and a lossy decoding
/// would search for text nobody sent).
pub fn unreadable_query(query: &str) -> bool {
    if query.is_empty() {
        return false;
    }
    match super::pages::form::parse(query.as_bytes()) {
        None => true,
        Some(fields) => fields
            .iter()
            .any(|(name, value)| has_control_characters(name) || has_control_characters(value)),
    }
}

/// `?limit=`: 1 to 200, default 50.
pub fn parse_limit(value: Option<&str>) -> Result<i64, AppError> {
    match value {
        None | Some("") => Ok(50),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| AppError::invalid_parameter("limit", v)),
    }
}

/// `?cursor=` of a list ordered by id: the last id seen.
pub fn parse_id_cursor(value: Option<&str>) -> Result<Option<i64>, AppError> {
    match value {
        None | Some("") => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::invalid_parameter("cursor", c)),
    }
}

/// The consultation list's query parameters, for the OpenAPI document (they are
/// parsed by [`parse_list`] because `state` may repeat).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Repeatable, or comma-separated: `received`, `hearing`, `assigned`, `waiting`,
    /// `resolved`, `closed`, `withdrawn`.
    state: Option<Vec<String>>,
    /// `me`, `none` or a user id.
    assignee: Option<String>,
    /// A department id or code; includes the units below it.
    department: Option<String>,
    category: Option<Category>,
    priority: Option<Priority>,
    /// Only consultations past their running due time.
    overdue: Option<bool>,
    /// Text to find (Japanese too) in the title, body, resolution and comments;
    /// staff also search internal notes.
    q: Option<String>,
    fiscal_year: Option<i32>,
    /// `created`, `-created` (default), `due`, `updated`, `relevance` (default with `q`).
    sort: Option<String>,
    /// Staff queue views: `unassigned`, `mine`, `waiting`, `overdue`, `all`; each
    /// sets default states, assignee and order under the filters given.
    view: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// A list cursor: the order it belongs to and where the page ended, opaque to clients.
pub fn encode_cursor(sort: Sort, cursor: &Cursor) -> String {
    let key = match cursor.key {
        Some(k) => k.format(CURSOR_TIME).to_string(),
        None if cursor.in_title => "title".into(),
        None => "-".into(),
    };
    URL_SAFE_NO_PAD.encode(format!("{}|{}|{}", sort.as_str(), key, cursor.id))
}

fn decode_cursor(value: &str) -> Option<(Sort, Cursor)> {
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('|');
    let (sort, key, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let in_title = key == "title";
    let key = match key {
        "-" | "title" => None,
        k => Some(NaiveDateTime::parse_from_str(k, CURSOR_TIME).ok()?),
    };
    Some((
        Sort::parse(sort)?,
        Cursor {
            key,
            id: id.parse().ok()?,
            in_title,
        },
    ))
}

fn department_ref(value: &str) -> DepartmentRef {
    match value.parse::<i64>() {
        Ok(id) => DepartmentRef::Id(id),
        Err(_) => DepartmentRef::Code(value.to_string()),
    }
}

fn fiscal_year(value: &str) -> Option<i32> {
    value
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2200).contains(y))
}

/// The consultation list's filters from a query string.
pub fn parse_list(query: &str) -> Result<ListFilter, AppError> {
    let mut filter = ListFilter {
        limit: 50,
        ..Default::default()
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        let bad = || AppError::invalid_parameter(&name, &value);
        match name.as_ref() {
            "state" => {
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    filter.states.push(State::parse(part).ok_or_else(bad)?);
                }
            }
            "assignee" => {
                filter.assignee = Some(match value.as_str() {
                    "me" => Assignee::Me,
                    "none" => Assignee::Nobody,
                    id => Assignee::User(id.parse().map_err(|_| bad())?),
                })
            }
            "department" => filter.department = Some(department_ref(&value)),
            "category" => filter.category = Some(Category::parse(&value).ok_or_else(bad)?),
            "priority" => filter.priority = Some(Priority::parse(&value).ok_or_else(bad)?),
            "overdue" => {
                filter.overdue = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad()),
                }
            }
            "q" => filter.text = Some(value.clone()),
            "fiscal_year" => filter.fiscal_year = Some(fiscal_year(&value).ok_or_else(bad)?),
            "sort" => filter.sort = Some(Sort::parse(&value).ok_or_else(bad)?),
            "view" => filter.view = Some(View::parse(&value).ok_or_else(bad)?),
            "limit" => filter.limit = parse_limit(Some(&value))?,
            "cursor" => filter.after = Some(decode_cursor(&value).ok_or_else(bad)?),
            // Unknown parameters are ignored, as clients may be newer than the server.
            _ => {}
        }
    }
    Ok(filter)
}

/// The ledger list's query parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct SystemListParams {
    /// A department id or code; includes the units below it.
    pub department: Option<String>,
    pub platform: Option<String>,
    pub phase: Option<String>,
    /// Only production systems that lack a field or are past their review date.
    pub flagged: Option<String>,
    /// Text in the name (full- and half-width alike).
    pub q: Option<String>,
    /// The fiscal year the systems entered production in (effects only).
    pub fiscal_year: Option<i32>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl SystemListParams {
    pub fn filter(&self) -> Result<SystemFilter, AppError> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let platform = match given(&self.platform) {
            Some(p) => Some(
                Platform::parse(&p).ok_or_else(|| AppError::invalid_parameter("platform", &p))?,
            ),
            None => None,
        };
        let phase = match given(&self.phase) {
            Some(p) => {
                Some(Phase::parse(&p).ok_or_else(|| AppError::invalid_parameter("phase", &p))?)
            }
            None => None,
        };
        let flagged = match given(&self.flagged).as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(v) => return Err(AppError::invalid_parameter("flagged", v)),
        };
        Ok(SystemFilter {
            department: given(&self.department).as_deref().map(department_ref),
            platform,
            phase,
            flagged,
            q: given(&self.q),
            fiscal_year: self.fiscal_year,
        })
    }
}

/// The dashboard's `?fiscal_year=` and `?department=` (an id or code).
pub fn parse_dashboard(query: &str) -> Result<DashboardParams, AppError> {
    let mut params = DashboardParams::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_ref() {
            "fiscal_year" => {
                params.fiscal_year = Some(
                    fiscal_year(value)
                        .ok_or_else(|| AppError::invalid_parameter("fiscal_year", value))?,
                )
            }
            "department" => params.department = Some(department_ref(value)),
            _ => {}
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_their_order() {
        let cursor = Cursor {
            key: NaiveDateTime::parse_from_str("2025-04-01T00:00:00.123456", CURSOR_TIME).ok(),
            id: 42,
            in_title: false,
        };
        let encoded = encode_cursor(Sort::Due, &cursor);
        assert_eq!(decode_cursor(&encoded), Some((Sort::Due, cursor)));
        assert_eq!(decode_cursor("garbage"), None);
        let empty = Cursor {
            key: None,
            id: 7,
            in_title: false,
        };
        assert_eq!(
            decode_cursor(&encode_cursor(Sort::Due, &empty)),
            Some((Sort::Due, empty))
        );
        let among_titles = Cursor {
            key: None,
            id: 9,
            in_title: true,
        };
        assert_eq!(
            decode_cursor(&encode_cursor(Sort::Relevance, &among_titles)),
            Some((Sort::Relevance, among_titles))
        );
    }

    #[test]
    fn list_parameters_accept_repeats_and_commas_and_refuse_garbage() {
        let parsed =
            parse_list("state=received&state=hearing,assigned&sort=due&limit=10&view=mine")
                .expect("valid");
        assert_eq!(
            parsed.states,
            vec![State::Received, State::Hearing, State::Assigned]
        );
        assert_eq!(parsed.sort, Some(Sort::Due));
        assert_eq!(parsed.limit, 10);
        assert_eq!(parsed.view, Some(View::Mine));
        for bad in [
            "state=open",
            "limit=0",
            "limit=201",
            "sort=size",
            "overdue=maybe",
            "assignee=x",
            "cursor=zz",
            "view=everything",
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }
}
