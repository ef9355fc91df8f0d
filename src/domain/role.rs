//! The roles of DESIGN.md and what each is, in general, allowed to see.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's role; wire values are the snake_case names of API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Requester,
    DxOffice,
    Helpdesk,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Requester,
        Role::DxOffice,
        Role::Helpdesk,
        Role::Manager,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::DxOffice => "dx_office",
            Role::Helpdesk => "helpdesk",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// Staff work consultations of every division and read internal notes.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::DxOffice | Role::Helpdesk | Role::Admin)
    }

    /// Staff and managers may see beyond their own division (managers within scope).
    pub fn sees_all(self) -> bool {
        self.is_staff()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_wire_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_dx_office_helpdesk_and_admin_are_staff() {
        let staff: Vec<Role> = Role::ALL.into_iter().filter(|r| r.is_staff()).collect();
        assert_eq!(staff, vec![Role::DxOffice, Role::Helpdesk, Role::Admin]);
    }
}
