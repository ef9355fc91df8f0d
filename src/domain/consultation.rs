//! Consultation attributes and the parsing of a new consultation's fields.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::role::Role;
use super::validation::FieldErrors;

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_CHARS: usize = 20_000;
pub const CONTACT_MAX_CHARS: usize = 200;
pub const TEXT_MAX_CHARS: usize = 10_000;
pub const PLACE_MAX_CHARS: usize = 500;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema,
            ::diesel::expression::AsExpression, ::diesel::deserialize::FromSqlRow,
        )]
        #[serde(rename_all = "snake_case")]
        // Stored as its wire value; `db::types` reads and writes it.
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn parse(value: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value)
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// What kind of help is asked for.
    Category {
        LowCodeApp => "low_code_app",
        EApplication => "e_application",
        Rpa => "rpa",
        AiOcr => "ai_ocr",
        DataUse => "data_use",
        Other => "other",
    }
);

wire_enum!(
    /// Urgency; it also selects the SLA.
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
);

/// Who may comment: managers only read, and internal notes are for staff.
pub fn may_comment(role: Role, internal: bool) -> bool {
    role != Role::Manager && (!internal || role.is_staff())
}

/// A new consultation's fields, parsed and trusted from here on.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConsultationFields {
    pub title: String,
    pub body: String,
    pub category: Category,
    pub priority: Priority,
    pub department_id: Option<i64>,
    pub desired_by: Option<NaiveDate>,
    pub contact: Option<String>,
}

/// The raw fields as they arrive, all optional so every problem is reported at once.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct NewConsultationInput {
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, max_length = 20000)]
    pub body: Option<String>,
    #[schema(required = true, value_type = Category)]
    pub category: Option<String>,
    /// `normal` when absent.
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
    /// The caller's own department when absent (filing on behalf: any).
    pub department_id: Option<i64>,
    /// `YYYY-MM-DD`
    #[schema(format = Date)]
    pub desired_by: Option<String>,
    #[schema(max_length = 200)]
    pub contact: Option<String>,
    /// Filing on behalf (DX office, admin): the person it is for, who gets the
    /// receipt and every later mail; their division is the default department.
    pub requester_id: Option<i64>,
}

impl NewConsultationInput {
    pub fn parse(&self) -> Result<NewConsultationFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = errors.required_text("title", self.title.as_deref(), TITLE_MAX_CHARS);
        let body = errors.required_text("body", self.body.as_deref(), BODY_MAX_CHARS);
        let category = parse_enum(
            &mut errors,
            "category",
            self.category.as_deref(),
            Category::parse,
            true,
        );
        let priority = parse_enum(
            &mut errors,
            "priority",
            self.priority.as_deref(),
            Priority::parse,
            false,
        )
        .unwrap_or(Priority::Normal);
        let desired_by = match self.desired_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    errors.add("desired_by", "validation.date");
                    None
                }
            },
        };
        let contact = errors.optional_text("contact", self.contact.as_deref(), CONTACT_MAX_CHARS);
        errors.into_result()?;
        match (title, body, category) {
            (Some(title), Some(body), Some(category)) => Ok(NewConsultationFields {
                title,
                body,
                category,
                priority,
                department_id: self.department_id,
                desired_by,
                contact,
            }),
            _ => Err(FieldErrors::new()),
        }
    }
}

/// A comment as it arrives.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct CommentInput {
    #[schema(required = true, value_type = String, min_length = 1, max_length = 10000)]
    pub body: Option<String>,
    /// An internal note (DX office and helpdesk only).
    pub internal: Option<bool>,
}

/// The editable attributes of `PATCH`, parsed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ConsultationEdit {
    pub title: Option<String>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct ConsultationEditInput {
    /// The version the caller saw.
    #[schema(required = true, value_type = i32)]
    pub version: Option<i32>,
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(value_type = Option<Category>)]
    pub category: Option<String>,
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
}

impl ConsultationEditInput {
    /// Returns the version the client saw and the parsed edit.
    pub fn parse(&self) -> Result<(i32, ConsultationEdit), FieldErrors> {
        let mut errors = FieldErrors::new();
        if self.version.is_none() {
            errors.add("version", "validation.required");
        }
        let title = match &self.title {
            Some(t) => errors.required_text("title", Some(t), TITLE_MAX_CHARS),
            None => None,
        };
        let category = parse_enum(
            &mut errors,
            "category",
            self.category.as_deref(),
            Category::parse,
            false,
        );
        let priority = parse_enum(
            &mut errors,
            "priority",
            self.priority.as_deref(),
            Priority::parse,
            false,
        );
        if self.title.is_none() && self.category.is_none() && self.priority.is_none() {
            errors.add("title", "validation.nothing_to_change");
        }
        errors.into_result()?;
        Ok((
            self.version.unwrap_or_default(),
            ConsultationEdit {
                title,
                category,
                priority,
            },
        ))
    }
}

/// Parses an enumeration's wire value; `required` decides whether absence is an error.
pub fn parse_enum<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    required: bool,
) -> Option<T> {
    match value.map(str::trim) {
        None | Some("") => {
            if required {
                errors.add(field, "validation.required");
            }
            None
        }
        Some(text) => {
            let parsed = parse(text);
            if parsed.is_none() {
                errors.add(field, "validation.choice");
            }
            parsed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> NewConsultationInput {
        NewConsultationInput {
            title: Some("紙の申請をオンライン化したい".into()),
            body: Some("毎月300件の申請を手入力しています。".into()),
            category: Some("e_application".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_consultation_parses_with_normal_priority_by_default() {
        let fields = valid().parse().expect("valid");
        assert_eq!(fields.category, Category::EApplication);
        assert_eq!(fields.priority, Priority::Normal);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = NewConsultationInput {
            title: Some(" ".into()),
            body: None,
            category: Some("fax".into()),
            priority: Some("asap".into()),
            desired_by: Some("2025/04/01".into()),
            ..Default::default()
        };
        let errors = input.parse().expect_err("invalid");
        for field in ["title", "body", "category", "priority", "desired_by"] {
            assert!(errors.contains(field), "{field} should be reported");
        }
    }

    #[test]
    fn an_edit_needs_a_version_and_something_to_change() {
        let errors = ConsultationEditInput::default()
            .parse()
            .expect_err("invalid");
        assert!(errors.contains("version"));
        assert!(errors.contains("title"));
        let ok = ConsultationEditInput {
            version: Some(3),
            priority: Some("high".into()),
            ..Default::default()
        };
        assert_eq!(ok.parse().expect("valid").1.priority, Some(Priority::High));
    }
}
