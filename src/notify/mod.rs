//! Notifications: who is told what about a consultation, rendered in each
//! recipient's language and queued in the outbox inside the transaction of the
//! change (so a change and its mail are written together or not at all). The
//! worker delivers them later through a `Mailer`.

pub mod inquiries;
pub mod invite;
pub mod mailer;
pub mod worker;

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use diesel::QueryResult;
use handlebars::Handlebars;
use serde_json::json;

use crate::db::consultations::Consultation;
use crate::db::inquiries::Inquiry;
use crate::db::outbox::{self, NewOutbox};
use crate::db::systems::System;
use crate::db::users::User;
use crate::db::{self, departments, users, DbConn};
use crate::domain::sla::DueKind;
use crate::domain::workflow::Payload;
use crate::domain::{Event, Role};
use crate::i18n::{format_datetime, t, Locale};
use crate::settings::Settings;

/// Kinds of mail a user may turn off; everything else needs their action or
/// records a hand-off, and is always sent.
pub const OPTIONAL_KINDS: &[&str] = &["reminder", "comment"];

/// Renders and queues mail.
pub struct Notifier {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
    public_url: String,
    timezone: Tz,
    mail_from: String,
}

/// What a mail is about.
#[derive(Clone, Copy)]
enum About<'a> {
    Consultation(&'a Consultation),
    Inquiry(&'a Inquiry),
    System(&'a System),
    /// The user's own account, with a link to act on it.
    Account(&'a str),
}

/// One mail to one person.
struct Letter<'a> {
    kind: &'static str,
    recipient: &'a User,
    about: About<'a>,
    /// Placeholders of the lead sentence and subject besides number and title.
    args: Vec<(&'static str, String)>,
    /// (catalog key of the label, value)
    details: Vec<(&'static str, String)>,
    calendar: Option<String>,
}

fn registry(escape_html: bool) -> Result<Handlebars<'static>, String> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    if !escape_html {
        h.register_escape_fn(handlebars::no_escape);
    }
    let templates = [
        (
            "notification.subject",
            include_str!("../../views/email/notification.subject.hbs"),
        ),
        (
            "notification.txt",
            include_str!("../../views/email/notification.txt.hbs"),
        ),
        (
            "notification.html",
            include_str!("../../views/email/notification.html.hbs"),
        ),
    ];
    for (name, source) in templates {
        h.register_template_string(name, source)
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    Ok(h)
}

impl Notifier {
    pub fn new(settings: &Settings) -> Result<Notifier, String> {
        Ok(Notifier {
            html: registry(true)?,
            text: registry(false)?,
            public_url: settings.public_url.trim_end_matches('/').to_string(),
            timezone: settings.timezone,
            mail_from: settings.mail_from.clone(),
        })
    }

    pub fn time(&self, locale: Locale, at: NaiveDateTime) -> String {
        format_datetime(locale, &self.timezone.from_utc_datetime(&at))
    }

    fn link(&self, consultation: &Consultation) -> String {
        format!("{}/consultations/{}", self.public_url, consultation.id)
    }

    /// The message of a letter in its recipient's language (`None`: they opted out
    /// of its kind).
    fn render(&self, letter: Letter) -> QueryResult<Option<NewOutbox>> {
        let user = letter.recipient;
        let category = match letter.kind {
            "comment" | "internal_note" | "inquiry_comment" | "inquiry_internal_note" => {
                Some("comment")
            }
            "reminder" | "inquiry_reminder" => Some("reminder"),
            _ => None,
        };
        if category.is_some_and(|c| user.mail_opt_out.split(',').any(|o| o.trim() == c)) {
            return Ok(None);
        }
        let locale = Locale::parse(&user.locale).unwrap_or_default();
        let (mut args, mut details, link, link_label, consultation_id) = match letter.about {
            About::Consultation(c) => (
                vec![("number", c.number.clone()), ("title", c.title.clone())],
                vec![
                    json!({"label": t(locale, "email.detail.number", &[]), "value": c.number}),
                    json!({"label": t(locale, "email.detail.title", &[]), "value": c.title}),
                    json!({"label": t(locale, "email.detail.state", &[]), "value": t(locale, &format!("state.{}", c.state.as_str()), &[])}),
                ],
                self.link(c),
                "email.link_label",
                Some(c.id),
            ),
            About::Inquiry(i) => (
                vec![("number", i.number.clone()), ("title", i.subject.clone())],
                vec![
                    json!({"label": t(locale, "email.detail.inquiry_number", &[]), "value": i.number}),
                    json!({"label": t(locale, "email.detail.title", &[]), "value": i.subject}),
                    json!({"label": t(locale, "email.detail.state", &[]), "value": t(locale, &format!("inquiry.state.{}", i.state.as_str()), &[])}),
                ],
                format!("{}/inquiries/{}", self.public_url, i.id),
                "email.inquiry_link_label",
                None,
            ),
            About::System(s) => (
                vec![("name", s.name.clone())],
                vec![
                    json!({"label": t(locale, "ledger.field.name", &[]), "value": s.name}),
                    json!({"label": t(locale, "ledger.field.phase", &[]), "value": t(locale, &format!("ledger.phase.{}", s.phase.as_str()), &[])}),
                ],
                format!("{}/systems/{}", self.public_url, s.id),
                "email.system_link_label",
                None,
            ),
            About::Account(link) => (
                vec![],
                vec![],
                link.to_string(),
                "email.password_reset.link_label",
                None,
            ),
        };
        args.extend(letter.args.iter().cloned());
        details.extend(
            letter
                .details
                .iter()
                .map(|(label, value)| json!({"label": t(locale, label, &[]), "value": value})),
        );
        let subject = t(locale, &format!("email.{}.subject", letter.kind), &args);
        let data = json!({
            "locale": locale.as_str(),
            "subject": subject,
            "greeting": t(locale, "email.greeting", &[("name", user.name.clone())]),
            "lead": t(locale, &format!("email.{}.lead", letter.kind), &args),
            "details": details,
            "link": link,
            "link_label": t(locale, link_label, &[]),
            "footer": t(locale, "email.footer", &[]),
        });
        let render = |h: &Handlebars, name: &str| {
            h.render(name, &data).map_err(|e| {
                diesel::result::Error::QueryBuilderError(
                    format!("mail template {name}: {e}").into(),
                )
            })
        };
        // A subject is one line: newlines in a title must not leak into headers.
        let subject = render(&self.text, "notification.subject")?
            .replace(['\r', '\n'], " ")
            .trim()
            .to_string();
        let body_text = render(&self.text, "notification.txt")?;
        let body_html = render(&self.html, "notification.html")?;
        let now = db::now();
        Ok(Some(NewOutbox {
            kind: letter.kind,
            consultation_id,
            recipient_id: Some(user.id),
            recipient_email: user.email.clone(),
            locale: locale.as_str(),
            subject,
            body_text,
            body_html,
            calendar: letter.calendar,
            status: "pending",
            next_attempt_at: now,
            created_at: now,
        }))
    }

    /// A new consultation's receipt to its requester and intake to the DX office,
    /// written while the consultation still has its provisional number (the
    /// filing takes its counter only after, so it holds it for less);
    /// [`Notifier::filed`] puts the real number in and queues them.
    pub fn filing_mail(&self, conn: &mut DbConn, c: &Consultation) -> QueryResult<FilingMail> {
        let mut people = People::default();
        people.add("filed_receipt", find_user(conn, Some(c.requester_id))?);
        people.add_all(
            "filed_intake",
            users::with_role(conn, Role::DxOffice, None)?,
        );
        Ok(FilingMail {
            messages: self.letters(c, people, vec![], vec![], None)?,
            provisional: c.number.clone(),
        })
    }

    /// Queues a filing's mail with the consultation's number in place of the
    /// provisional one.
    pub fn filed(&self, conn: &mut DbConn, mail: FilingMail, number: &str) -> QueryResult<()> {
        let numbered: Vec<NewOutbox> = mail
            .messages
            .into_iter()
            .map(|m| NewOutbox {
                subject: m.subject.replace(&mail.provisional, number),
                body_text: m.body_text.replace(&mail.provisional, number),
                body_html: m.body_html.replace(&mail.provisional, number),
                ..m
            })
            .collect();
        outbox::insert_all(conn, &numbered).map(drop)
    }

    /// Mail for a workflow event, per the `notifies` column of DESIGN.md. The actor
    /// is not told of their own action, except that whoever schedules a hearing gets
    /// its invitation too.
    pub fn event(
        &self,
        conn: &mut DbConn,
        before: &Consultation,
        after: &Consultation,
        event: Event,
        actor_id: Option<i64>,
        payload: &Payload,
    ) -> QueryResult<()> {
        let requester = find_user(conn, Some(after.requester_id))?;
        let assignee = find_user(conn, after.assignee_id)?;
        let mut people = People::default();
        let mut details: Vec<(&'static str, String)> = vec![];
        let mut calendar = None;
        let locale_free_time = |at: chrono::DateTime<chrono::Utc>| at.naive_utc();
        let mut hearing_time = None;
        match payload {
            Payload::ScheduleHearing { hearing_at, place } => {
                people.add("hearing_scheduled", requester);
                people.add("hearing_scheduled", assignee);
                people.add("hearing_scheduled", find_user(conn, actor_id)?);
                hearing_time = Some(locale_free_time(*hearing_at));
                details.push(("email.detail.hearing_place", place.clone()));
                let sequence =
                    crate::db::events::count_of(conn, after.id, Event::ScheduleHearing.as_str())?
                        .saturating_sub(1);
                calendar = Some((*hearing_at, place.clone(), sequence));
            }
            Payload::Assign { reason, .. } => {
                people.add("assigned_to_you", assignee);
                if before.assignee_id != after.assignee_id {
                    people.add("assigned_away", find_user(conn, before.assignee_id)?);
                }
                people.add("assigned", requester);
                people.add_all("assigned", division_managers(conn, after.department_id)?);
                if let Some(reason) = reason {
                    details.push(("email.detail.reason", reason.clone()));
                }
            }
            Payload::RequestInfo { message } => {
                people.add("info_requested", requester);
                details.push(("email.detail.message", message.clone()));
            }
            Payload::ProvideInfo { message } => {
                people.add("info_provided", assignee);
                details.push(("email.detail.message", message.clone()));
            }
            Payload::Resolve { resolution, .. } => {
                people.add("resolved", requester);
                people.add_all("resolved", division_managers(conn, after.department_id)?);
                details.push(("email.detail.resolution", resolution.clone()));
            }
            Payload::Reopen { reason } => {
                people.add("reopened", assignee);
                details.push(("email.detail.reason", reason.clone()));
            }
            Payload::Close { rating } => {
                people.add("closed", assignee);
                if let Some(rating) = rating {
                    details.push(("email.detail.rating", format!("{rating} / 5")));
                }
            }
            Payload::Withdraw { reason, .. } => {
                people.add("withdrawn", assignee);
                people.add_all("withdrawn", users::with_role(conn, Role::DxOffice, None)?);
                details.push(("email.detail.reason", reason.clone()));
            }
        }
        if event != Event::ScheduleHearing {
            people.remove(actor_id);
        }
        self.send_all(
            conn,
            after,
            people,
            details,
            hearing_time.into_iter().collect(),
            calendar,
        )
    }

    /// A comment tells the other side; an internal note tells staff only.
    pub fn comment(
        &self,
        conn: &mut DbConn,
        c: &Consultation,
        author: &User,
        body: &str,
        internal: bool,
    ) -> QueryResult<()> {
        let mut people = People::default();
        let author_is_staff = author.role.is_staff();
        let staff_side = match find_user(conn, c.assignee_id)? {
            Some(assignee) => vec![assignee],
            None => users::with_role(conn, Role::DxOffice, None)?,
        };
        if internal {
            people.add_all("internal_note", staff_side);
            people.add_all(
                "internal_note",
                users::with_role(conn, Role::DxOffice, None)?,
            );
        } else {
            if author_is_staff {
                people.add("comment", find_user(conn, Some(c.requester_id))?);
            }
            people.add_all("comment", staff_side);
        }
        people.remove(Some(author.id));
        let details = vec![
            ("email.detail.comment", body.to_string()),
            ("email.detail.actor", author.name.clone()),
        ];
        self.send_all(conn, c, people, details, vec![], None)
    }

    /// A reminder before, or a breach notice after, a due time.
    pub fn due(
        &self,
        conn: &mut DbConn,
        c: &Consultation,
        kind: DueKind,
        due_at: NaiveDateTime,
        breached: bool,
    ) -> QueryResult<()> {
        let mut people = People::default();
        let letter_kind = if breached { "breach" } else { "reminder" };
        people.add(letter_kind, find_user(conn, c.assignee_id)?);
        if kind == DueKind::Hearing {
            people.add_all(letter_kind, users::with_role(conn, Role::DxOffice, None)?);
        }
        if breached {
            people.add_all(letter_kind, dx_office_managers(conn)?);
        }
        let mut mail = vec![];
        for (kind_name, user) in people.into_list() {
            let locale = Locale::parse(&user.locale).unwrap_or_default();
            let args = vec![
                (
                    "due",
                    t(locale, &format!("email.due.{}", kind.as_str()), &[]),
                ),
                ("at", self.time(locale, due_at)),
            ];
            let details = vec![("email.detail.due_at", self.time(locale, due_at))];
            mail.extend(self.render(Letter {
                kind: kind_name,
                recipient: &user,
                about: About::Consultation(c),
                args,
                details,
                calendar: None,
            })?);
        }
        outbox::insert_all(conn, &mail).map(drop)
    }

    /// Tells a production system's owner what the ledger entry lacks (field labels)
    /// or that its review date has passed.
    pub fn system_reminder(
        &self,
        conn: &mut DbConn,
        system: &System,
        missing: &[&str],
        review_overdue: bool,
    ) -> QueryResult<()> {
        let Some(owner) = find_user(conn, Some(system.owner_id))?.filter(|u| u.active) else {
            return Ok(());
        };
        let locale = Locale::parse(&owner.locale).unwrap_or_default();
        let mut details = vec![];
        if !missing.is_empty() {
            let labels: Vec<String> = missing
                .iter()
                .map(|f| t(locale, &format!("ledger.field.{f}"), &[]))
                .collect();
            details.push(("email.detail.missing", labels.join(", ")));
        }
        if let (true, Some(review_on)) = (review_overdue, system.review_on) {
            details.push(("email.detail.review_overdue", review_on.to_string()));
        }
        let mail = self.render(Letter {
            kind: "system_reminder",
            recipient: &owner,
            about: About::System(system),
            args: vec![],
            details,
            calendar: None,
        })?;
        outbox::insert_all(conn, mail.as_slice()).map(drop)
    }

    /// A one-time link to set a new password, to its user, with when it expires.
    pub fn password_reset(
        &self,
        conn: &mut DbConn,
        user: &User,
        token: &str,
        expires_at: NaiveDateTime,
    ) -> QueryResult<()> {
        let locale = Locale::parse(&user.locale).unwrap_or_default();
        let link = format!("{}/password-reset/{token}", self.public_url);
        let mail = self.render(Letter {
            kind: "password_reset",
            recipient: user,
            about: About::Account(&link),
            args: vec![],
            details: vec![(
                "email.detail.link_expires_at",
                self.time(locale, expires_at),
            )],
            calendar: None,
        })?;
        outbox::insert_all(conn, mail.as_slice()).map(drop)
    }

    fn send_all(
        &self,
        conn: &mut DbConn,
        c: &Consultation,
        people: People,
        details: Vec<(&'static str, String)>,
        times: Vec<NaiveDateTime>,
        calendar: Option<(chrono::DateTime<chrono::Utc>, String, i64)>,
    ) -> QueryResult<()> {
        let mail = self.letters(c, people, details, times, calendar)?;
        outbox::insert_all(conn, &mail).map(drop)
    }

    /// The messages of one event about a consultation, one per person.
    fn letters(
        &self,
        c: &Consultation,
        people: People,
        details: Vec<(&'static str, String)>,
        times: Vec<NaiveDateTime>,
        calendar: Option<(chrono::DateTime<chrono::Utc>, String, i64)>,
    ) -> QueryResult<Vec<NewOutbox>> {
        let mut mail = vec![];
        for (kind, user) in people.into_list() {
            let locale = Locale::parse(&user.locale).unwrap_or_default();
            let mut details = details.clone();
            for at in &times {
                details.insert(0, ("email.detail.hearing_at", self.time(locale, *at)));
            }
            let calendar = calendar.as_ref().map(|(at, place, sequence)| {
                invite::hearing_request(&invite::Hearing {
                    consultation: c,
                    starts_at: *at,
                    place,
                    sequence: *sequence,
                    organizer: &self.mail_from,
                    attendee: &user.email,
                    link: &self.link(c),
                })
            });
            mail.extend(self.render(Letter {
                kind,
                recipient: &user,
                about: About::Consultation(c),
                args: vec![],
                details,
                calendar,
            })?);
        }
        Ok(mail)
    }
}

/// A filing's mail, written before its number was taken.
pub struct FilingMail {
    messages: Vec<NewOutbox>,
    provisional: String,
}

/// Recipients with the kind of mail each gets; one mail per person, the first
/// kind added winning (an assignee who is also the requester gets one mail).
#[derive(Default)]
struct People(BTreeMap<i64, (&'static str, User)>);

impl People {
    fn add(&mut self, kind: &'static str, user: Option<User>) {
        if let Some(user) = user.filter(|u| u.active) {
            self.0.entry(user.id).or_insert((kind, user));
        }
    }

    fn add_all(&mut self, kind: &'static str, users: Vec<User>) {
        for user in users {
            self.add(kind, Some(user));
        }
    }

    fn remove(&mut self, id: Option<i64>) {
        if let Some(id) = id {
            self.0.remove(&id);
        }
    }

    fn into_list(self) -> Vec<(&'static str, User)> {
        self.0.into_values().collect()
    }
}

fn find_user(conn: &mut DbConn, id: Option<i64>) -> QueryResult<Option<User>> {
    match id {
        Some(id) => users::find(conn, id),
        None => Ok(None),
    }
}

/// The "division manager" of DESIGN.md's notification columns: the managers of the
/// consultation's department or, if it has none, of the nearest unit above it that
/// has some.
fn division_managers(conn: &mut DbConn, department_id: i64) -> QueryResult<Vec<User>> {
    let parents: std::collections::HashMap<i64, Option<i64>> = departments::list(conn)?
        .into_iter()
        .map(|d| (d.id, d.parent_id))
        .collect();
    let units = crate::domain::directory::unit_and_those_above(department_id, |id| {
        parents.get(&id).copied().flatten()
    });
    for unit in units {
        let managers = users::with_role(conn, Role::Manager, Some(&[unit]))?;
        if !managers.is_empty() {
            return Ok(managers);
        }
    }
    Ok(vec![])
}

/// Managers of the DX office, who hear of every breach.
fn dx_office_managers(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    let offices: Vec<i64> = departments::list(conn)?
        .into_iter()
        .filter(|d| d.is_dx_office)
        .map(|d| d.id)
        .collect();
    users::with_role(conn, Role::Manager, Some(&offices))
}
