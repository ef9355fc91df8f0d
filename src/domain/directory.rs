//! Parsing of new users and departments, shared by the command line and the API.

use serde::Deserialize;
use utoipa::ToSchema;

use super::role::Role;
use super::validation::FieldErrors;

/// A department and the units above it, nearest first (DESIGN.md: "the managers
/// of the consultation's division or, if it has none, of the nearest unit above
/// it"). `parent_of` gives a unit's parent; a loop in bad data ends the walk.
pub fn unit_and_those_above(start: i64, parent_of: impl Fn(i64) -> Option<i64>) -> Vec<i64> {
    let mut units = vec![start];
    let mut at = start;
    while let Some(parent) = parent_of(at) {
        if units.contains(&parent) {
            break;
        }
        units.push(parent);
        at = parent;
    }
    units
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct NewUserInput {
    #[schema(required = true, value_type = String, format = Email)]
    pub email: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(required = true, value_type = Role)]
    pub role: Option<String>,
    #[schema(required = true, value_type = i64)]
    pub department_id: Option<i64>,
    /// `ja` (default) or `en`.
    pub locale: Option<String>,
    #[schema(required = true, value_type = String, min_length = 8)]
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUserFields {
    /// Lower-cased.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: String,
    pub password: String,
}

/// A plausible e-mail address: one `@`, something on both sides, no spaces.
pub fn is_email(value: &str) -> bool {
    let mut parts = value.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None)
            if !local.is_empty()
                && !domain.is_empty()
                && !value.contains(char::is_whitespace)
                && !super::validation::has_control_characters(value)
    )
}

pub fn parse_locale(errors: &mut FieldErrors, value: Option<&str>) -> String {
    match value.map(str::trim) {
        None | Some("") => "ja".into(),
        Some(l @ ("ja" | "en")) => l.into(),
        Some(_) => {
            errors.add("locale", "validation.choice");
            "ja".into()
        }
    }
}

impl NewUserInput {
    /// The department is resolved by the caller (by id in the API, by code on the
    /// command line).
    pub fn parse(&self) -> Result<NewUserFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = errors
            .required_text("email", self.email.as_deref(), 254)
            .map(|e| e.to_lowercase());
        if let Some(e) = &email {
            if !is_email(e) {
                errors.add("email", "validation.email");
            }
        }
        let name = errors.required_text("name", self.name.as_deref(), NAME_MAX_CHARS);
        let role = match self.role.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add("role", "validation.required");
                None
            }
            Some(r) => {
                let role = Role::parse(r);
                if role.is_none() {
                    errors.add("role", "validation.choice");
                }
                role
            }
        };
        let locale = parse_locale(&mut errors, self.locale.as_deref());
        let password = match self.password.as_deref() {
            None | Some("") => {
                errors.add("password", "validation.required");
                None
            }
            Some(p) => match super::password::problem(p) {
                Some(problem) => {
                    errors.add("password", problem);
                    None
                }
                None => Some(p.to_string()),
            },
        };
        errors.into_result()?;
        match (email, name, role, password) {
            (Some(email), Some(name), Some(role), Some(password)) => Ok(NewUserFields {
                email,
                name,
                role,
                locale,
                password,
            }),
            _ => Err(FieldErrors::new()),
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct NewDepartmentInput {
    #[schema(required = true, value_type = String, min_length = 1)]
    pub code: Option<String>,
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub parent_id: Option<i64>,
    /// `bureau`, `ward`, `division` or `section`; derived from the parent when absent.
    pub kind: Option<String>,
    #[serde(default)]
    pub is_dx_office: bool,
}

pub const DEPARTMENT_KINDS: &[&str] = &["bureau", "ward", "division", "section"];

#[derive(Debug, Clone)]
pub struct NewDepartmentFields {
    pub code: String,
    pub name: String,
    pub kind: Option<String>,
    pub is_dx_office: bool,
}

impl NewDepartmentInput {
    pub fn parse(&self) -> Result<NewDepartmentFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = errors.required_text("code", self.code.as_deref(), 50);
        if code
            .as_deref()
            .is_some_and(|c| c.contains(char::is_whitespace))
        {
            errors.add("code", "validation.choice");
        }
        let name = errors.required_text("name", self.name.as_deref(), NAME_MAX_CHARS);
        let kind = errors.optional_text("kind", self.kind.as_deref(), 20);
        if kind
            .as_deref()
            .is_some_and(|k| !DEPARTMENT_KINDS.contains(&k))
        {
            errors.add("kind", "validation.choice");
        }
        errors.into_result()?;
        match (code, name) {
            (Some(code), Some(name)) => Ok(NewDepartmentFields {
                code,
                name,
                kind,
                is_dx_office: self.is_dx_office,
            }),
            _ => Err(FieldErrors::new()),
        }
    }
}

/// The longest name of a person or a department.
pub const NAME_MAX_CHARS: usize = 100;

/// An admin's edit of a user; absent fields stay as they are.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<String>,
    pub department_id: Option<i64>,
    pub locale: Option<String>,
    /// `false` deactivates: the user can no longer log in; their records stay.
    pub active: Option<bool>,
    pub password: Option<String>,
}

/// A user edit, parsed; the department is checked against the database.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UserEdit {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub department_id: Option<i64>,
    pub locale: Option<String>,
    pub active: Option<bool>,
    /// A new password (hashed by the use case).
    pub password: Option<String>,
}

impl UserUpdate {
    pub fn parse(&self) -> Result<UserEdit, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = match &self.name {
            Some(n) => errors.required_text("name", Some(n), NAME_MAX_CHARS),
            None => None,
        };
        let role = self.role.as_deref().and_then(|r| {
            let role = Role::parse(r.trim());
            if role.is_none() {
                errors.add("role", "validation.choice");
            }
            role
        });
        let locale = self
            .locale
            .as_deref()
            .map(|l| parse_locale(&mut errors, Some(l)));
        let password = match self.password.as_deref() {
            Some(p) => match super::password::problem(p) {
                Some(problem) => {
                    errors.add("password", problem);
                    None
                }
                None => Some(p.to_string()),
            },
            None => None,
        };
        errors.into_result()?;
        Ok(UserEdit {
            name,
            role,
            department_id: self.department_id,
            locale,
            active: self.active,
            password,
        })
    }
}

/// An admin's edit of a department; absent fields stay as they are.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct DepartmentUpdate {
    pub name: Option<String>,
    pub active: Option<bool>,
}

impl DepartmentUpdate {
    /// The new name, if any, checked.
    pub fn parse_name(&self) -> Result<Option<String>, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = match &self.name {
            Some(n) => errors.required_text("name", Some(n), NAME_MAX_CHARS),
            None => None,
        };
        errors.into_result()?;
        Ok(name)
    }
}

/// One's own preferences.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct MeUpdate {
    /// `ja` or `en`.
    pub locale: Option<String>,
    /// Optional mail the caller does not want: any of `reminder`, `comment`.
    pub mail_opt_out: Option<Vec<String>>,
    /// A new password; needs `current_password`. Ends the caller's other sessions.
    pub password: Option<String>,
    pub current_password: Option<String>,
    /// The new password typed again (the page asks for it; optional in the API).
    pub password_confirmation: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_comes_first_then_those_above_it_nearest_first() {
        // bureau 1 → division 2 → section 3; 9 stands alone.
        let parent = |id: i64| match id {
            3 => Some(2),
            2 => Some(1),
            _ => None,
        };
        assert_eq!(unit_and_those_above(3, parent), vec![3, 2, 1]);
        assert_eq!(unit_and_those_above(2, parent), vec![2, 1]);
        assert_eq!(unit_and_those_above(9, parent), vec![9]);
        let looped = |id: i64| Some(if id == 1 { 2 } else { 1 });
        assert_eq!(unit_and_those_above(1, looped), vec![1, 2]);
    }

    #[test]
    fn emails_need_one_at_sign_and_no_spaces() {
        assert!(is_email("tanaka@city.example.jp"));
        assert!(!is_email("tanaka"));
        assert!(!is_email("a@b@c"));
        assert!(!is_email("ta naka@city.jp"));
        assert!(!is_email("@city.jp"));
    }

    #[test]
    fn a_new_user_is_checked_field_by_field() {
        let errors = NewUserInput {
            email: Some("nope".into()),
            role: Some("root".into()),
            password: Some("short".into()),
            locale: Some("fr".into()),
            ..Default::default()
        }
        .parse()
        .expect_err("invalid");
        for field in ["email", "name", "role", "password", "locale"] {
            assert!(errors.contains(field), "{field}");
        }
        let ok = NewUserInput {
            email: Some("Sato@City.Example.JP".into()),
            name: Some("佐藤".into()),
            role: Some("helpdesk".into()),
            password: Some("long enough".into()),
            ..Default::default()
        }
        .parse()
        .expect("valid");
        assert_eq!(ok.email, "sato@city.example.jp");
        assert_eq!(ok.locale, "ja");
    }
}
