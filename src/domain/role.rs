//! The roles of DESIGN.md and what each is, in general, allowed to see.

use super::consultation::wire_enum;

wire_enum!(
    /// A user's role; wire values are the snake_case names of API.md.
    Role {
        Requester => "requester",
        DxOffice => "dx_office",
        Helpdesk => "helpdesk",
        Manager => "manager",
        Admin => "admin",
    }
);

impl Role {
    /// Staff work consultations of every division and read internal notes.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::DxOffice | Role::Helpdesk | Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_wire_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_dx_office_helpdesk_and_admin_are_staff() {
        let staff: Vec<Role> = Role::ALL.iter().copied().filter(|r| r.is_staff()).collect();
        assert_eq!(staff, vec![Role::DxOffice, Role::Helpdesk, Role::Admin]);
    }
}
