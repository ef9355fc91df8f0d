//! The April reorganisation: `digicon import departments|users`, the admin pages'
//! upload and `POST /api/v1/admin/import/{what}` all come here. A file is planned
//! (`domain::reorg`) against the directory inside one transaction and applied
//! there only if no row has a problem: all or nothing. Visibility needs no
//! refresh afterwards, since every request computes its caller's scope from the
//! tree; the dashboard's rollups, kept per division, are recounted for the
//! divisions that gained or lost departments or tickets (the whole
//! organisation's rows do not change).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::Connection;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{App, Caller, Error, Result};
use crate::db::consultations::{self, Change, Consultation, ConsultationChanges};
use crate::db::departments::{self, NewDepartment};
use crate::db::inquiries::{self, Inquiry, InquiryChange, InquiryChanges};
use crate::db::reorg::{self as store, Reshape};
use crate::db::users::{self, NewUser, UserChanges};
use crate::db::{self, sessions, stats, DbConn};
use crate::domain::reorg::departments::{self as dept_plan, Change as DeptChange, Unit};
use crate::domain::reorg::users::{self as user_plan, Change as UserChange, Directory, Person};
use crate::domain::reorg::{decode, Problem};
use crate::domain::{password, Role};

/// Which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importing {
    Departments,
    Users,
}

impl Importing {
    pub fn as_str(self) -> &'static str {
        match self {
            Importing::Departments => "departments",
            Importing::Users => "users",
        }
    }
}

/// One row that changes something.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlannedChange {
    pub line: usize,
    /// `create`, `update`, `move`, `merge`, `deactivate` or `transfer`.
    pub action: String,
    /// The department code or the e-mail address.
    pub target: String,
    /// The new values (`name`, `kind`, `parent`, `merge_into`, `role`, `department`, `locale`).
    pub fields: BTreeMap<String, String>,
}

/// What an import did or, in a dry run or with problems, would do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// `departments` or `users`.
    pub kind: String,
    /// Whether the changes were written (never with problems or in a dry run).
    pub applied: bool,
    pub changes: Vec<PlannedChange>,
    /// Rows that would change nothing (already so).
    pub unchanged: usize,
    pub problems: Vec<Problem>,
}

/// Imports a file as an admin.
pub fn import(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    what: Importing,
    file: &[u8],
    dry_run: bool,
) -> Result<ImportReport> {
    caller.require(&[Role::Admin])?;
    let me = users::find(conn, caller.id)?.ok_or(Error::NotFound)?;
    let by = By {
        id: Some(me.id),
        email: Some(me.email),
    };
    run(app, conn, what, file, dry_run, by)
}

/// Imports a file for the command line, whose operator is trusted.
pub fn import_trusted(
    app: &App,
    conn: &mut DbConn,
    what: Importing,
    file: &[u8],
    dry_run: bool,
) -> Result<ImportReport> {
    let by = By {
        id: None,
        email: None,
    };
    run(app, conn, what, file, dry_run, by)
}

/// Who imports: an admin (recorded on the moved consultations' events, and not
/// to be deactivated by their own file), or the command line's operator.
struct By {
    id: Option<i64>,
    email: Option<String>,
}

fn run(
    app: &App,
    conn: &mut DbConn,
    what: Importing,
    file: &[u8],
    dry_run: bool,
    by: By,
) -> Result<ImportReport> {
    let mut report = ImportReport {
        kind: what.as_str().into(),
        applied: false,
        changes: vec![],
        unchanged: 0,
        problems: vec![],
    };
    let text = match decode(file) {
        Ok(text) => text,
        Err(problem) => {
            report.problems.push(problem);
            return Ok(report);
        }
    };
    conn.transaction(|conn| {
        if !dry_run {
            store::lock_directory(conn)?;
        }
        match what {
            Importing::Departments => {
                let plan = dept_plan::plan(&text, units(conn)?, active_people(conn)?);
                report.unchanged = plan.unchanged;
                report.problems = plan.problems;
                report.changes = plan.changes.iter().map(describe_department).collect();
                if report.problems.is_empty() && !dry_run {
                    apply_departments(app, conn, &plan.changes, by.id)?;
                    report.applied = true;
                }
            }
            Importing::Users => {
                let plan =
                    user_plan::plan(&text, directory(conn, by.email, app.directory.is_some())?);
                report.unchanged = plan.unchanged;
                report.problems = plan.problems;
                report.changes = plan.changes.iter().map(describe_user).collect();
                if report.problems.is_empty() && !dry_run {
                    apply_users(conn, &plan.changes)?;
                    report.applied = true;
                }
            }
        }
        Ok(report)
    })
}

/// The tree by code, with who and what is still in each unit.
fn units(conn: &mut DbConn) -> Result<Vec<Unit>> {
    let all = departments::list(conn)?;
    let code_of: HashMap<i64, String> = all.iter().map(|d| (d.id, d.code.clone())).collect();
    let people = store::active_people(conn)?;
    let open = store::open_tickets(conn)?;
    Ok(all
        .into_iter()
        .map(|d| Unit {
            parent: d.parent_id.and_then(|p| code_of.get(&p).cloned()),
            people: people.get(&d.id).copied().unwrap_or(0),
            open_tickets: open.get(&d.id).copied().unwrap_or(0),
            code: d.code,
            name: d.name,
            kind: d.kind,
            active: d.active,
        })
        .collect())
}

/// Active people by e-mail address, with their unit's code.
fn active_people(conn: &mut DbConn) -> Result<dept_plan::People> {
    let code_of: HashMap<i64, String> = departments::list(conn)?
        .into_iter()
        .map(|d| (d.id, d.code))
        .collect();
    Ok(users::list(conn, None, i64::MAX)?
        .into_iter()
        .filter(|u| u.active)
        .filter_map(|u| Some((u.email, code_of.get(&u.department_id)?.clone())))
        .collect())
}

fn directory(
    conn: &mut DbConn,
    protected: Option<String>,
    has_directory: bool,
) -> Result<Directory> {
    let all = departments::list(conn)?;
    let code_of: HashMap<i64, String> = all.iter().map(|d| (d.id, d.code.clone())).collect();
    let people = users::list(conn, None, i64::MAX)?
        .into_iter()
        .map(|u| Person {
            department: code_of.get(&u.department_id).cloned().unwrap_or_default(),
            email: u.email,
            name: u.name,
            role: u.role,
            locale: u.locale,
            active: u.active,
            auth: u.auth_source,
        })
        .collect();
    Ok(Directory {
        people,
        departments: all.into_iter().map(|d| (d.code, d.active)).collect(),
        protected,
        has_directory,
    })
}

fn code_ids(conn: &mut DbConn) -> Result<HashMap<String, i64>> {
    Ok(departments::list(conn)?
        .into_iter()
        .map(|d| (d.code, d.id))
        .collect())
}

fn id_of(ids: &HashMap<String, i64>, code: &str) -> Result<i64> {
    ids.get(code)
        .copied()
        .ok_or_else(|| Error::internal(format!("department {code} vanished during an import")))
}

fn apply_departments(
    app: &App,
    conn: &mut DbConn,
    changes: &[(usize, DeptChange)],
    actor_id: Option<i64>,
) -> Result<()> {
    let mut ids = code_ids(conn)?;
    let now = db::now();
    let mut tree_changed = false;
    let division_before = stats::divisions(conn)?;
    // Departments whose tickets a merge moved (an inquiry counts under its own).
    let mut merged: Vec<i64> = vec![];
    for (_, change) in changes {
        match change {
            DeptChange::Create {
                code,
                name,
                kind,
                parent,
            } => {
                let parent_id = match parent {
                    Some(p) => Some(id_of(&ids, p)?),
                    None => None,
                };
                let created = departments::insert(
                    conn,
                    &NewDepartment {
                        code,
                        name,
                        kind,
                        parent_id,
                        is_dx_office: false,
                        created_at: now,
                    },
                )?;
                ids.insert(code.clone(), created.id);
            }
            DeptChange::Update { code, name, kind } => {
                // A section that becomes a division (or back) changes whose
                // division its consultations count in.
                tree_changed |= kind.is_some();
                let reshape = Reshape {
                    name: name.clone(),
                    kind: kind.clone(),
                    ..Reshape::default()
                };
                store::reshape(conn, id_of(&ids, code)?, &reshape)?;
            }
            DeptChange::Move { code, parent } => {
                tree_changed = true;
                let reshape = Reshape {
                    parent_id: Some(Some(id_of(&ids, parent)?)),
                    ..Reshape::default()
                };
                store::reshape(conn, id_of(&ids, code)?, &reshape)?;
            }
            DeptChange::Merge { code, into } => {
                tree_changed = true;
                let (from, to) = (id_of(&ids, code)?, id_of(&ids, into)?);
                merged.extend([from, to]);
                let reason = format!("{code} → {into}");
                for c in store::open_consultations(conn, from)? {
                    move_consultation(conn, c, to, &reason, actor_id)?;
                }
                for i in store::open_inquiries(conn, from)? {
                    move_inquiry(conn, i, to, &reason, actor_id)?;
                }
                store::move_contents(conn, from, to, now)?;
                let reshape = Reshape {
                    active: Some(false),
                    ..Reshape::default()
                };
                store::reshape(conn, from, &reshape)?;
            }
            DeptChange::Deactivate { code } => {
                let reshape = Reshape {
                    active: Some(false),
                    ..Reshape::default()
                };
                store::reshape(conn, id_of(&ids, code)?, &reshape)?;
            }
            DeptChange::Transfer { email, code } => {
                transfer(conn, email, id_of(&ids, code)?, now)?;
            }
        }
    }
    if tree_changed {
        let division_after = stats::divisions(conn)?;
        let division = |map: &HashMap<i64, i64>, d: i64| map.get(&d).copied().unwrap_or(d);
        let mut affected = BTreeSet::new();
        for (&department, &after) in &division_after {
            let before = division(&division_before, department);
            if before != after {
                affected.extend([before, after]);
            }
        }
        for department in merged {
            affected.extend([
                department,
                division(&division_before, department),
                division(&division_after, department),
            ]);
        }
        stats::recount_divisions(conn, &app.timezone, &affected)?;
        app.dashboards.clear();
    }
    Ok(())
}

/// Moves an open consultation to the surviving department with an `update`
/// event, as an edit would: the timeline is the record of where it has been.
fn move_consultation(
    conn: &mut DbConn,
    mut current: Consultation,
    to: i64,
    reason: &str,
    actor_id: Option<i64>,
) -> Result<()> {
    // On PostgreSQL someone may fire an event meanwhile: read it again and retry.
    for _ in 0..3 {
        let payload = json!({
            "changes": {"department_id": [current.department_id, to]},
            "reason": reason,
        });
        let moved = consultations::apply(
            conn,
            Change {
                consultation: &current,
                expected_version: current.version,
                event: "update",
                actor_id,
                to_state: current.state,
                changes: ConsultationChanges {
                    department_id: Some(to),
                    ..ConsultationChanges::default()
                },
                payload,
                now: db::now(),
            },
        )?;
        if moved.is_some() {
            return Ok(());
        }
        current = consultations::find(conn, current.id)?.ok_or(Error::NotFound)?;
    }
    Err(Error::Stale {
        current: current.version,
    })
}

/// Moves an open inquiry to the surviving department, with an `update` event.
fn move_inquiry(
    conn: &mut DbConn,
    mut current: Inquiry,
    to: i64,
    reason: &str,
    actor_id: Option<i64>,
) -> Result<()> {
    for _ in 0..3 {
        let payload = json!({
            "changes": {"department_id": [current.department_id, to]},
            "message": reason,
        });
        let moved = inquiries::apply(
            conn,
            InquiryChange {
                inquiry: &current,
                expected_version: current.version,
                event: "update",
                actor_id,
                to_state: current.state,
                changes: InquiryChanges {
                    department_id: Some(to),
                    ..InquiryChanges::default()
                },
                payload,
                now: db::now(),
            },
        )?;
        if moved.is_some() {
            return Ok(());
        }
        current = inquiries::find(conn, current.id)?.ok_or(Error::NotFound)?;
    }
    Err(Error::Stale {
        current: current.version,
    })
}

fn apply_users(conn: &mut DbConn, changes: &[(usize, UserChange)]) -> Result<()> {
    let ids = code_ids(conn)?;
    let now = db::now();
    let user_id = |conn: &mut DbConn, email: &str| -> Result<i64> {
        users::find_by_email(conn, email)?
            .map(|u| u.id)
            .ok_or_else(|| Error::internal(format!("user {email} vanished during an import")))
    };
    for (_, change) in changes {
        match change {
            UserChange::Create {
                email,
                name,
                role,
                department,
                locale,
                auth,
            } => {
                let new = NewUser {
                    email,
                    name,
                    password_hash: password::UNUSABLE,
                    role: *role,
                    department_id: id_of(&ids, department)?,
                    locale,
                    created_at: now,
                    updated_at: now,
                };
                if auth == users::DIRECTORY {
                    users::insert_directory_account(conn, &new)?;
                } else {
                    users::insert(conn, &new)?;
                }
            }
            UserChange::Update {
                email,
                name,
                role,
                locale,
                department,
                auth,
            } => {
                let department_id = match department {
                    Some(d) => Some(id_of(&ids, d)?),
                    None => None,
                };
                let id = user_id(conn, email)?;
                let changes = UserChanges {
                    name: name.clone(),
                    role: *role,
                    locale: locale.clone(),
                    department_id,
                    auth_source: auth.clone(),
                    updated_at: Some(now),
                    ..UserChanges::default()
                };
                users::update(conn, id, &changes)?;
            }
            UserChange::Transfer { email, department } => {
                transfer(conn, email, id_of(&ids, department)?, now)?;
            }
            UserChange::Deactivate { email } => {
                let id = user_id(conn, email)?;
                let changes = UserChanges {
                    active: Some(false),
                    updated_at: Some(now),
                    ..UserChanges::default()
                };
                users::update(conn, id, &changes)?;
                // A deactivated account is signed out everywhere at once.
                sessions::end_all(conn, id, None, now)?;
            }
        }
    }
    Ok(())
}

fn transfer(
    conn: &mut DbConn,
    email: &str,
    department_id: i64,
    now: chrono::NaiveDateTime,
) -> Result<()> {
    let user = users::find_by_email(conn, email)?
        .ok_or_else(|| Error::internal(format!("user {email} vanished during an import")))?;
    let changes = UserChanges {
        department_id: Some(department_id),
        updated_at: Some(now),
        ..UserChanges::default()
    };
    users::update(conn, user.id, &changes)?;
    Ok(())
}

fn fields<const N: usize>(pairs: [(&str, Option<&String>); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn describe_department((line, change): &(usize, DeptChange)) -> PlannedChange {
    let (action, target, fields) = match change {
        DeptChange::Create {
            code,
            name,
            kind,
            parent,
        } => (
            "create",
            code,
            fields([
                ("name", Some(name)),
                ("kind", Some(kind)),
                ("parent", parent.as_ref()),
            ]),
        ),
        DeptChange::Update { code, name, kind } => (
            "update",
            code,
            fields([("name", name.as_ref()), ("kind", kind.as_ref())]),
        ),
        DeptChange::Move { code, parent } => ("move", code, fields([("parent", Some(parent))])),
        DeptChange::Merge { code, into } => ("merge", code, fields([("merge_into", Some(into))])),
        DeptChange::Deactivate { code } => ("deactivate", code, BTreeMap::new()),
        DeptChange::Transfer { email, code } => {
            ("transfer", email, fields([("department", Some(code))]))
        }
    };
    PlannedChange {
        line: *line,
        action: action.into(),
        target: target.clone(),
        fields,
    }
}

fn describe_user((line, change): &(usize, UserChange)) -> PlannedChange {
    let role_of = |r: &Option<Role>| r.map(|r| r.as_str().to_string());
    let (action, target, fields) = match change {
        UserChange::Create {
            email,
            name,
            role,
            department,
            locale,
            auth,
        } => (
            "create",
            email,
            fields([
                ("name", Some(name)),
                ("role", Some(&role.as_str().to_string())),
                ("department", Some(department)),
                ("locale", Some(locale)),
                ("auth", Some(auth)),
            ]),
        ),
        UserChange::Update {
            email,
            name,
            role,
            locale,
            department,
            auth,
        } => (
            "update",
            email,
            fields([
                ("name", name.as_ref()),
                ("role", role_of(role).as_ref()),
                ("department", department.as_ref()),
                ("locale", locale.as_ref()),
                ("auth", auth.as_ref()),
            ]),
        ),
        UserChange::Transfer { email, department } => (
            "transfer",
            email,
            fields([("department", Some(department))]),
        ),
        UserChange::Deactivate { email } => ("deactivate", email, BTreeMap::new()),
    };
    PlannedChange {
        line: *line,
        action: action.into(),
        target: target.clone(),
        fields,
    }
}
