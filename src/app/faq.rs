//! The FAQ use cases: reading (everyone), writing and publishing an answered
//! inquiry as an article (helpdesk, DX office, admin), suggestions while someone
//! types a question, and "this solved it".

use diesel::Connection;

use super::{Caller, Error, Result};
use crate::db::faq::{self, FaqArticle};
use crate::db::inquiries::{self, Inquiry};
use crate::db::DbConn;
use crate::domain::faq::{bigrams, likeness, FaqInput};
use crate::domain::inquiry::{InquiryState, Topic};
use crate::domain::Role;

/// Who writes the FAQ (and publishes answered inquiries as articles).
pub fn may_write(role: Role) -> bool {
    matches!(role, Role::Helpdesk | Role::DxOffice | Role::Admin)
}

/// How many articles the FAQ holds at most in one list.
pub const FAQ_LIST_LIMIT: i64 = 500;
/// How many of the newest inquiries suggestions look through.
pub const SUGGEST_WINDOW: i64 = 10_000;

pub fn list(
    conn: &mut DbConn,
    topic: Option<Topic>,
    text: Option<&str>,
) -> Result<Vec<FaqArticle>> {
    let articles = faq::list(conn, topic, FAQ_LIST_LIMIT)?;
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(articles);
    };
    let draft = bigrams(text);
    let needle = crate::domain::search::normalize(text);
    let mut ranked: Vec<(f64, FaqArticle)> = articles
        .into_iter()
        .filter_map(|a| {
            let hay = crate::domain::search::normalize(&format!(
                "{} {} {}",
                a.title, a.question, a.answer
            ));
            let score = if hay.contains(&needle) {
                2.0
            } else {
                likeness(&draft, &a.title, &a.question)
            };
            (score > 0.0).then_some((score, a))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(ranked.into_iter().map(|(_, a)| a).collect())
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<FaqArticle> {
    faq::find(conn, id)?.ok_or(Error::NotFound)
}

/// Writes a new article; with `source_inquiry_id`, publishes an answered
/// inquiry the caller can see (its text is the default of every field left out).
pub fn create(conn: &mut DbConn, caller: &Caller, input: &FaqInput) -> Result<FaqArticle> {
    if !may_write(caller.role) {
        return Err(Error::Forbidden);
    }
    let mut input = input.clone();
    if let Some(id) = input.source_inquiry_id {
        let source = inquiries::find_visible(conn, id, &caller.scope)?
            .filter(|i| i.answer.is_some())
            .ok_or_else(|| {
                Error::invalid_field("source_inquiry_id", "validation.unanswered_inquiry")
            })?;
        input.title = input.title.or(Some(source.subject));
        input.question = input.question.or(Some(source.question));
        input.answer = input.answer.or(source.answer);
        input.topic = input.topic.or(Some(source.topic.as_str().to_string()));
    }
    let fields = input.parse()?;
    Ok(faq::insert(
        conn,
        &fields,
        input.source_inquiry_id,
        caller.id,
        crate::db::now(),
    )?)
}

/// Rewrites an article (every field, with the version the caller saw).
pub fn update(conn: &mut DbConn, caller: &Caller, id: i64, input: &FaqInput) -> Result<FaqArticle> {
    if !may_write(caller.role) {
        return Err(Error::Forbidden);
    }
    let current = get(conn, id)?;
    let Some(version) = input.version else {
        return Err(Error::invalid_field("version", "validation.required"));
    };
    let fields = input.parse()?;
    if current.version != version {
        return Err(Error::Stale {
            current: current.version,
        });
    }
    conn.transaction(|conn| {
        if !faq::update(conn, id, version, &fields, caller.id, crate::db::now())? {
            return Err(Error::Stale {
                current: version + 1,
            });
        }
        get(conn, id)
    })
}

/// What a draft question may already have an answer in.
#[derive(Debug, Default)]
pub struct Suggestions {
    pub articles: Vec<FaqArticle>,
    pub inquiries: Vec<Inquiry>,
}

/// FAQ articles first, then answered inquiries the caller may see, like a draft
/// (at most five of each). Bounded: the FAQ list, and the newest
/// [`SUGGEST_WINDOW`] inquiries looked up by the draft's first bigrams.
pub fn suggest(conn: &mut DbConn, caller: &Caller, text: &str) -> Result<Suggestions> {
    if text.chars().count() > 2_000 {
        return Err(Error::bad_parameter("text", "…"));
    }
    let draft = bigrams(text);
    if draft.len() < 2 {
        return Ok(Suggestions::default());
    }
    let mut articles: Vec<(f64, FaqArticle)> = faq::list(conn, None, FAQ_LIST_LIMIT)?
        .into_iter()
        .map(|a| (likeness(&draft, &a.title, &a.question), a))
        .filter(|(score, _)| *score > 0.0)
        .collect();
    articles.sort_by(|a, b| b.0.total_cmp(&a.0));
    // The draft's bigrams in the order written (the start says what it is about).
    let mut words: Vec<String> = crate::domain::search::grams(text)
        .split(' ')
        .filter(|g| g.chars().count() == 2)
        .map(str::to_string)
        .collect();
    words.dedup();
    words.truncate(4);
    let mut inquiries: Vec<(f64, Inquiry)> =
        faq::answered_like(conn, &words, &caller.scope, SUGGEST_WINDOW, 50)?
            .into_iter()
            .map(|i| (likeness(&draft, &i.subject, &i.question), i))
            .filter(|(score, _)| *score > 0.0)
            .collect();
    inquiries.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(Suggestions {
        articles: articles.into_iter().take(5).map(|(_, a)| a).collect(),
        inquiries: inquiries.into_iter().take(5).map(|(_, i)| i).collect(),
    })
}

/// "This solved it": an article or an answered inquiry the caller may see
/// answered their question, which they then did not ask.
pub fn solved(
    app: &super::App,
    conn: &mut DbConn,
    caller: &Caller,
    faq_id: Option<i64>,
    inquiry_id: Option<i64>,
) -> Result<()> {
    match (faq_id, inquiry_id) {
        (Some(id), None) => {
            get(conn, id)?;
        }
        (None, Some(id)) => {
            inquiries::find_visible(conn, id, &caller.scope)?
                .filter(|i| matches!(i.state, InquiryState::Answered | InquiryState::Closed))
                .ok_or(Error::NotFound)?;
        }
        _ => return Err(Error::invalid_field("faq_id", "validation.required")),
    }
    let now = crate::db::now();
    let department = crate::db::departments::find(conn, caller.department_id)?
        .ok_or_else(|| Error::internal("user without department"))?;
    let division = crate::db::departments::division_of(conn, &department)?;
    let year = crate::domain::fiscal::fiscal_year(
        chrono::TimeZone::from_utc_datetime(&app.timezone, &now).date_naive(),
    );
    let facts = crate::domain::inquiry_rollup::deflection_facts(year, division, now, &app.timezone);
    conn.transaction(|conn| {
        faq::deflect(conn, caller.id, faq_id, inquiry_id, now)?;
        crate::db::stats::add(conn, &facts)?;
        Ok(())
    })
}
