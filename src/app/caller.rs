//! Who is asking: a signed-in user with their role and what they may see.

use super::{Error, Result};
use crate::db::consultations::Scope;
use crate::db::{departments, DbConn};
use crate::domain::workflow::Actor;
use crate::domain::Role;

/// The person a use case acts for. Built once per request from the session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: i64,
    pub role: Role,
    pub department_id: i64,
    /// The departments whose consultations and ledger entries they may see;
    /// every query that returns them is filtered by it in SQL.
    pub scope: Scope,
    /// The sign-in session the request came with.
    pub session: Option<String>,
}

impl Caller {
    /// The caller with their scope (DESIGN.md "Users and roles").
    pub fn load(
        conn: &mut DbConn,
        id: i64,
        role: Role,
        department_id: i64,
        session: Option<String>,
    ) -> Result<Caller> {
        let scope = departments::visibility_scope(conn, role, department_id)?;
        Ok(Caller {
            id,
            role,
            department_id,
            scope,
            session,
        })
    }

    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            role: self.role,
        }
    }

    /// `Forbidden` unless the caller has one of the roles.
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// What the navigation offers a role: only what its use cases would allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Menu {
    /// "New consultation".
    pub new_consultation: bool,
    /// The dashboard.
    pub dashboard: bool,
    /// Users and departments.
    pub admin: bool,
}

impl Menu {
    pub fn of(role: Role) -> Menu {
        Menu {
            new_consultation: crate::domain::workflow::may_file(role),
            dashboard: super::reports::sees_reports(role),
            admin: role == Role::Admin,
        }
    }
}
