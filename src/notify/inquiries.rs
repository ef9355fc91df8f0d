//! Who is told what about a helpdesk inquiry (the `notifies` column of DESIGN.md's
//! inquiry table), queued in the transaction of the change like consultation mail.

use diesel::QueryResult;

use super::{find_user, About, Letter, Notifier, People};
use crate::db::inquiries::Inquiry;
use crate::db::outbox;
use crate::db::users::{self, User};
use crate::db::DbConn;
use crate::domain::inquiry::InquiryPayload;
use crate::domain::Role;

impl Notifier {
    /// A new inquiry: the asker's receipt, and the helpdesk told (all SEs; the
    /// desk has no duty roster yet). A question answered while it was recorded
    /// sends only the answer, by [`Notifier::inquiry_event`].
    pub fn inquiry_asked(
        &self,
        conn: &mut DbConn,
        inquiry: &Inquiry,
        answered_now: bool,
    ) -> QueryResult<()> {
        if answered_now {
            return Ok(());
        }
        let mut people = People::default();
        people.add("inquiry_receipt", find_user(conn, Some(inquiry.asker_id))?);
        people.add_all("inquiry_new", users::with_role(conn, Role::Helpdesk, None)?);
        people.remove(Some(inquiry.filed_by).filter(|id| *id != inquiry.asker_id));
        let details = vec![("email.detail.question", inquiry.question.clone())];
        self.send_inquiry(conn, inquiry, people, details)
    }

    /// Mail for an inquiry event; the actor is not told of their own action.
    pub fn inquiry_event(
        &self,
        conn: &mut DbConn,
        after: &Inquiry,
        actor_id: Option<i64>,
        payload: &InquiryPayload,
    ) -> QueryResult<()> {
        let asker = find_user(conn, Some(after.asker_id))?;
        let assignee = find_user(conn, after.assignee_id)?;
        let mut people = People::default();
        let mut details = vec![];
        match payload {
            InquiryPayload::Take | InquiryPayload::Close { .. } => {}
            InquiryPayload::Answer { answer } => {
                people.add("inquiry_answered", asker);
                details.push(("email.detail.answer", answer.clone()));
            }
            InquiryPayload::AskBack { message } => {
                people.add("inquiry_asked_back", asker);
                details.push(("email.detail.message", message.clone()));
            }
            InquiryPayload::Reply { message } => {
                match assignee {
                    Some(se) => people.add("inquiry_replied", Some(se)),
                    None => people.add_all(
                        "inquiry_replied",
                        users::with_role(conn, Role::Helpdesk, None)?,
                    ),
                }
                details.push(("email.detail.message", message.clone()));
            }
            InquiryPayload::Escalate => {
                people.add("inquiry_escalated", asker);
                people.add_all(
                    "inquiry_escalated",
                    users::with_role(conn, Role::DxOffice, None)?,
                );
            }
        }
        people.remove(actor_id);
        self.send_inquiry(conn, after, people, details)
    }

    /// A comment tells the other side; an internal note tells staff only.
    pub fn inquiry_comment(
        &self,
        conn: &mut DbConn,
        inquiry: &Inquiry,
        author: &User,
        body: &str,
        internal: bool,
    ) -> QueryResult<()> {
        let mut people = People::default();
        let staff_side = match find_user(conn, inquiry.assignee_id)? {
            Some(se) => vec![se],
            None => users::with_role(conn, Role::Helpdesk, None)?,
        };
        if internal {
            people.add_all("inquiry_internal_note", staff_side);
        } else {
            if author.role.is_staff() {
                people.add("inquiry_comment", find_user(conn, Some(inquiry.asker_id))?);
            }
            people.add_all("inquiry_comment", staff_side);
        }
        people.remove(Some(author.id));
        let details = vec![
            ("email.detail.comment", body.to_string()),
            ("email.detail.actor", author.name.clone()),
        ];
        self.send_inquiry(conn, inquiry, people, details)
    }

    /// The first answer's reminder (to the SE holding it, or every SE) or its
    /// breach notice (the same, and the DX office's managers).
    pub fn inquiry_due(
        &self,
        conn: &mut DbConn,
        inquiry: &Inquiry,
        breach: bool,
    ) -> QueryResult<()> {
        let kind = if breach {
            "inquiry_breach"
        } else {
            "inquiry_reminder"
        };
        let mut people = People::default();
        match find_user(conn, inquiry.assignee_id)? {
            Some(se) => people.add(kind, Some(se)),
            None => people.add_all(kind, users::with_role(conn, Role::Helpdesk, None)?),
        }
        if breach {
            people.add_all(kind, super::dx_office_managers(conn)?);
        }
        let due = inquiry
            .first_answer_due_at
            .map(|at| self.time(crate::i18n::Locale::Ja, at))
            .unwrap_or_default();
        self.send_inquiry(conn, inquiry, people, vec![("email.detail.due_at", due)])
    }

    fn send_inquiry(
        &self,
        conn: &mut DbConn,
        inquiry: &Inquiry,
        people: People,
        details: Vec<(&'static str, String)>,
    ) -> QueryResult<()> {
        let mut mail = vec![];
        for (kind, user) in people.into_list() {
            mail.extend(self.render(Letter {
                kind,
                recipient: &user,
                about: About::Inquiry(inquiry),
                args: vec![],
                details: details.clone(),
                calendar: None,
            })?);
        }
        outbox::insert_all(conn, &mail).map(drop)
    }
}
