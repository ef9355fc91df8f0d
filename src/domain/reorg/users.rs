//! The users file: `action,email,name,role,department,locale`.
//!
//! - `create`: `email`, `name`, `role`, `department` (a code) and optional
//!   `locale` (`ja` by default). The account gets no password: its owner signs
//!   in through the directory or with a reset link.
//! - `update`: `email` and any of `name`, `role`, `locale`, `department`.
//! - `transfer`: `email` to another `department`.
//! - `deactivate`: `email`.
//!
//! A row that would change nothing is skipped, so a file can be run again.

use std::collections::HashMap;

use serde::Serialize;

use super::{rows, text, Problem, Row};
use crate::domain::directory::{is_email, NAME_MAX_CHARS};
use crate::domain::Role;

pub const COLUMNS: &[&str] = &[
    "action",
    "email",
    "name",
    "role",
    "department",
    "locale",
    "auth",
];
const REQUIRED: &[&str] = &["action", "email"];

/// A user as the plan sees them, by e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Department code.
    pub department: String,
    pub locale: String,
    pub active: bool,
    /// Where the password is checked: `local` or `directory`.
    pub auth: String,
}

/// One change to apply, by e-mail address and department code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    Create {
        email: String,
        name: String,
        role: Role,
        department: String,
        locale: String,
        auth: String,
    },
    Update {
        email: String,
        name: Option<String>,
        role: Option<Role>,
        locale: Option<String>,
        department: Option<String>,
        auth: Option<String>,
    },
    Transfer {
        email: String,
        department: String,
    },
    Deactivate {
        email: String,
    },
}

/// What a file would do (see `departments::Plan`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<(usize, Change)>,
    pub unchanged: usize,
    pub problems: Vec<Problem>,
}

/// The directory the users file is planned against.
pub struct Directory {
    pub people: Vec<Person>,
    /// Every department code and whether it is active.
    pub departments: HashMap<String, bool>,
    /// Who may not be deactivated (the admin running the import).
    pub protected: Option<String>,
    /// Whether a directory (LDAP) is configured: new people sign in through it
    /// unless their row says `local`, and without one nobody can be `directory`.
    pub has_directory: bool,
}

/// Plans a users file.
pub fn plan(text_of_file: &str, mut directory: Directory) -> Plan {
    let rows = match rows(text_of_file, COLUMNS, REQUIRED) {
        Ok(rows) => rows,
        Err(problems) => {
            return Plan {
                problems,
                ..Plan::default()
            }
        }
    };
    let mut people: HashMap<String, Person> = std::mem::take(&mut directory.people)
        .into_iter()
        .map(|p| (p.email.clone(), p))
        .collect();
    let mut plan = Plan::default();
    for row in &rows {
        let before = plan.problems.len();
        let cells = Cells::parse(&mut plan.problems, row, &directory);
        let change = match cells {
            Some(cells) => plan_row(
                &mut people,
                &mut plan.problems,
                row,
                cells,
                directory.protected.as_deref(),
                directory.has_directory,
            ),
            None => None,
        };
        match change {
            Some(change) => plan.changes.push((row.line, change)),
            None if plan.problems.len() == before => plan.unchanged += 1,
            None => {}
        }
    }
    plan
}

/// A row's cells, each checked on its own.
struct Cells {
    action: String,
    email: String,
    name: Option<String>,
    role: Option<Role>,
    department: Option<String>,
    locale: Option<String>,
    auth: Option<String>,
}

impl Cells {
    fn parse(problems: &mut Vec<Problem>, row: &Row, directory: &Directory) -> Option<Cells> {
        let departments = &directory.departments;
        let before = problems.len();
        let action = row.get("action").unwrap_or_default().to_lowercase();
        if !["create", "update", "transfer", "deactivate"].contains(&action.as_str()) {
            problems.push(Problem::new(row.line, "action", "import.unknown_action"));
        }
        let email = text(problems, row, "email", true, 254).map(|e| e.to_lowercase());
        if email.as_deref().is_some_and(|e| !is_email(e)) {
            problems.push(Problem::new(row.line, "email", "validation.email"));
        }
        let name = text(problems, row, "name", action == "create", NAME_MAX_CHARS);
        let role = match row.get("role") {
            None if action == "create" => {
                problems.push(Problem::new(row.line, "role", "validation.required"));
                None
            }
            None => None,
            Some(r) => {
                let role = Role::parse(&r.to_lowercase());
                if role.is_none() {
                    problems.push(Problem::new(row.line, "role", "import.unknown_role"));
                }
                role
            }
        };
        let department = match row.get("department") {
            None if action == "create" || action == "transfer" => {
                problems.push(Problem::new(row.line, "department", "validation.required"));
                None
            }
            None => None,
            Some(code) => match departments.get(code) {
                Some(true) => Some(code.to_string()),
                Some(false) => {
                    problems.push(Problem::new(
                        row.line,
                        "department",
                        "import.inactive_department",
                    ));
                    None
                }
                None => {
                    problems.push(Problem::new(
                        row.line,
                        "department",
                        "validation.unknown_department",
                    ));
                    None
                }
            },
        };
        let locale = match row.get("locale") {
            None => None,
            Some(l @ ("ja" | "en")) => Some(l.to_string()),
            Some(_) => {
                problems.push(Problem::new(row.line, "locale", "import.bad_locale"));
                None
            }
        };
        let auth = match row.get("auth").map(str::to_lowercase) {
            None => None,
            Some(a) if a == "directory" && !directory.has_directory => {
                problems.push(Problem::new(row.line, "auth", "import.no_directory"));
                None
            }
            Some(a) if a == "local" || a == "directory" => Some(a),
            Some(_) => {
                problems.push(Problem::new(row.line, "auth", "import.bad_auth"));
                None
            }
        };
        if problems.len() > before {
            return None;
        }
        Some(Cells {
            action,
            email: email?,
            name,
            role,
            department,
            locale,
            auth,
        })
    }
}

fn plan_row(
    people: &mut HashMap<String, Person>,
    problems: &mut Vec<Problem>,
    row: &Row,
    cells: Cells,
    protected: Option<&str>,
    has_directory: bool,
) -> Option<Change> {
    let Cells {
        action,
        email,
        name,
        role,
        department,
        locale,
        auth,
    } = cells;
    if action == "create" {
        // A blank `auth` leaves an existing account as it is, so a file can be
        // run again after LDAP is configured.
        let auth = auth.unwrap_or_else(|| match people.get(&email) {
            Some(existing) => existing.auth.clone(),
            None if has_directory => "directory".into(),
            None => "local".into(),
        });
        let person = Person {
            email: email.clone(),
            name: name?,
            role: role?,
            department: department?,
            locale: locale.unwrap_or_else(|| "ja".into()),
            active: true,
            auth,
        };
        if let Some(existing) = people.get(&email) {
            if !existing.active {
                // Not brought back silently: the file may be an old one.
                problems.push(Problem::new(row.line, "email", "import.inactive_user"));
            } else if *existing != person {
                problems.push(Problem::new(row.line, "email", "import.duplicate_email"));
            }
            return None;
        }
        people.insert(email, person.clone());
        return Some(Change::Create {
            email: person.email,
            name: person.name,
            role: person.role,
            department: person.department,
            locale: person.locale,
            auth: person.auth,
        });
    }
    let Some(person) = people.get_mut(&email) else {
        problems.push(Problem::new(row.line, "email", "import.unknown_user"));
        return None;
    };
    match action.as_str() {
        "update" => {
            if [&name, &locale, &department, &auth]
                .iter()
                .all(|cell| cell.is_none())
                && role.is_none()
            {
                problems.push(Problem::new(row.line, "name", "import.nothing_to_update"));
                return None;
            }
            let name = name.filter(|n| *n != person.name);
            let role = role.filter(|r| *r != person.role);
            let locale = locale.filter(|l| *l != person.locale);
            let department = department.filter(|d| *d != person.department);
            let auth = auth.filter(|a| *a != person.auth);
            if [&name, &locale, &department, &auth]
                .iter()
                .all(|cell| cell.is_none())
                && role.is_none()
            {
                return None;
            }
            if protected == Some(email.as_str()) && role.is_some_and(|r| r != Role::Admin) {
                // Nobody would be left to give the role back.
                problems.push(Problem::new(row.line, "role", "import.own_role"));
                return None;
            }
            person.name = name.clone().unwrap_or(person.name.clone());
            person.role = role.unwrap_or(person.role);
            person.locale = locale.clone().unwrap_or(person.locale.clone());
            person.department = department.clone().unwrap_or(person.department.clone());
            person.auth = auth.clone().unwrap_or(person.auth.clone());
            Some(Change::Update {
                email,
                name,
                role,
                locale,
                department,
                auth,
            })
        }
        "transfer" => {
            let department = department?;
            if person.department == department {
                return None;
            }
            person.department = department.clone();
            Some(Change::Transfer { email, department })
        }
        _ => {
            if !person.active {
                return None;
            }
            if protected == Some(email.as_str()) {
                problems.push(Problem::new(
                    row.line,
                    "email",
                    "validation.self_deactivation",
                ));
                return None;
            }
            person.active = false;
            Some(Change::Deactivate { email })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Directory {
        Directory {
            people: vec![Person {
                email: "tanaka@city.test".into(),
                name: "田中".into(),
                role: Role::Requester,
                department: "D1".into(),
                locale: "ja".into(),
                active: true,
                auth: "local".into(),
            }],
            departments: [("D1".to_string(), true), ("OLD".to_string(), false)].into(),
            protected: Some("admin@city.test".into()),
            has_directory: false,
        }
    }

    #[test]
    fn creates_transfers_and_deactivations_are_planned_in_order() {
        let plan = plan(
            "email,action,name,role,department\n\
             sato@city.test,create,佐藤,manager,D1\n\
             Tanaka@City.test,transfer,,,D1\n\
             sato@city.test,update,,helpdesk,\n\
             tanaka@city.test,deactivate,,,\n",
            directory(),
        );
        assert_eq!(plan.problems, vec![]);
        assert_eq!(plan.unchanged, 1, "tanaka is already in D1");
        assert_eq!(plan.changes.len(), 3);
        assert_eq!(plan.changes[2].0, 5);
    }

    #[test]
    fn every_problem_is_reported_with_its_line_and_field() {
        let plan = plan(
            "action,email,name,role,department,locale,auth\n\
             create,sato@city.test,佐藤,boss,NOPE,fr,\n\
             create,tanaka@city.test,別人,requester,D1,\n\
             transfer,nobody@city.test,,,D1,\n\
             transfer,tanaka@city.test,,,OLD,\n\
             deactivate,admin@city.test,,,,\n\
             create,not-an-address,名,requester,D1,\n\
             create,gone@city.test,元職員,requester,D1,\n\
             update,tanaka@city.test,,,,,directory\n\
             update,tanaka@city.test,,,,,kerberos\n",
            Directory {
                people: vec![
                    directory().people[0].clone(),
                    Person {
                        email: "gone@city.test".into(),
                        name: "元職員".into(),
                        role: Role::Requester,
                        department: "D1".into(),
                        locale: "ja".into(),
                        active: false,
                        auth: "local".into(),
                    },
                    Person {
                        email: "admin@city.test".into(),
                        name: "管理".into(),
                        role: Role::Admin,
                        department: "D1".into(),
                        locale: "ja".into(),
                        active: true,
                        auth: "local".into(),
                    },
                ],
                ..directory()
            },
        );
        let found: Vec<(usize, &str, &str)> = plan
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, "role", "import.unknown_role"),
                (2, "department", "validation.unknown_department"),
                (2, "locale", "import.bad_locale"),
                (3, "email", "import.duplicate_email"),
                (4, "email", "import.unknown_user"),
                (5, "department", "import.inactive_department"),
                (6, "email", "validation.self_deactivation"),
                (7, "email", "validation.email"),
                (8, "email", "import.inactive_user"),
                (9, "auth", "import.no_directory"),
                (10, "auth", "import.bad_auth"),
            ]
        );
    }

    #[test]
    fn new_people_sign_in_through_the_directory_when_there_is_one() {
        let file = "action,email,name,role,department,auth\n\
                    create,sato@city.test,佐藤,requester,D1,\n\
                    create,ito@city.test,伊藤,requester,D1,local\n\
                    create,tanaka@city.test,田中,requester,D1,\n\
                    update,tanaka@city.test,,,,directory\n";
        let auth_of = |plan: &Plan| -> Vec<String> {
            plan.changes
                .iter()
                .map(|(_, change)| match change {
                    Change::Create { auth, .. } => auth.clone(),
                    Change::Update { auth, .. } => format!("update {auth:?}"),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let with_ldap = plan(
            file,
            Directory {
                has_directory: true,
                ..directory()
            },
        );
        assert_eq!(with_ldap.problems, vec![]);
        // The existing local account is left local by the blank cell and
        // switched by the update.
        assert_eq!(with_ldap.unchanged, 1);
        assert_eq!(
            auth_of(&with_ldap),
            vec!["directory", "local", "update Some(\"directory\")"]
        );
        let without = plan(&file.replace(",directory\n", ",\n"), directory());
        assert_eq!(without.problems.len(), 1, "{:?}", without.problems);
        assert_eq!(auth_of(&without), vec!["local", "local"]);
    }
}
