//! Ids that cross layers, as types: a handler cannot pass a system's id to a use
//! case that wants a consultation's. Within `db` rows keep plain `i64` columns.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A consultation.
    ConsultationId
);
id!(
    /// A ledger entry.
    SystemId
);
id!(
    /// A user.
    UserId
);
id!(
    /// A department.
    DepartmentId
);
id!(
    /// A queued message.
    MessageId
);
