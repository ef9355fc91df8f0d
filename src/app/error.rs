//! Why a use case refused or failed, as types. The web layer maps each to a status
//! code and a message in the caller's language (`web::error`); nothing here knows
//! about HTTP.

use std::fmt;

use crate::domain::inquiry::{InquiryError, InquiryEvent};
use crate::domain::workflow::WorkflowError;
use crate::domain::{Event, FieldErrors};

#[derive(Debug)]
pub enum Error {
    /// It does not exist, or the caller may not see it (the two are one answer).
    NotFound,
    /// The caller may see it but may not do this.
    Forbidden,
    /// The caller's role may not fire this workflow event (its wire name).
    ForbiddenEvent(&'static str),
    /// Someone changed it since the caller read version `current - 1` or earlier.
    Stale { current: i32 },
    /// The current state does not allow the event.
    /// Wire names of the state, the event and the events allowed, of either
    /// workflow table.
    NotAllowed {
        state: &'static str,
        event: &'static str,
        allowed: Vec<&'static str>,
    },
    /// Nothing may change on a closed or withdrawn consultation (its state).
    Terminal(&'static str),
    /// Fields are missing or invalid; messages are catalog keys per field.
    Invalid(FieldErrors),
    /// A list parameter cannot be read.
    BadParameter { name: String, value: String },
    /// An idempotency key was used before with a different request.
    IdempotencyMismatch,
    /// A file over the limit of a file or of its ticket (413).
    TooLarge,
    /// A kind of file the desk does not take (415).
    UnsupportedType,
    /// A message that has not failed cannot be sent again.
    NotFailed { status: String },
    /// The request conflicts with the current state (a catalog key says how).
    Conflict(&'static str),
    /// The database cannot be reached now.
    Unavailable(String),
    /// The city's directory cannot be reached now (the cause, for the log).
    DirectoryUnavailable(String),
    /// The caller may not do this, for the reason a catalog key gives.
    Refused(&'static str),
    /// A one-time link that expired or was used (a catalog key says which page).
    Gone(&'static str),
    /// A fault; logged, never shown.
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid_field(field: &str, key: &'static str) -> Error {
        let mut errors = FieldErrors::new();
        errors.add(field, key);
        Error::Invalid(errors)
    }

    pub fn bad_parameter(name: &str, value: &str) -> Error {
        Error::BadParameter {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    pub fn internal(cause: impl fmt::Display) -> Error {
        Error::Internal(cause.to_string())
    }

    /// A workflow refusal for an event.
    pub fn workflow(error: WorkflowError, event: Event) -> Error {
        match error {
            WorkflowError::Forbidden => Error::ForbiddenEvent(event.as_str()),
            WorkflowError::NotAllowed { state, allowed } => Error::NotAllowed {
                state: state.as_str(),
                event: event.as_str(),
                allowed: allowed.iter().map(|e| e.as_str()).collect(),
            },
            WorkflowError::Invalid(errors) => Error::Invalid(errors),
        }
    }

    /// An inquiry workflow refusal for an event.
    pub fn inquiry(error: InquiryError, event: InquiryEvent) -> Error {
        match error {
            InquiryError::Forbidden => Error::ForbiddenEvent(event.as_str()),
            InquiryError::NotAllowed { state, allowed } => Error::NotAllowed {
                state: state.as_str(),
                event: event.as_str(),
                allowed: allowed.iter().map(|e| e.as_str()).collect(),
            },
            InquiryError::Invalid(errors) => Error::Invalid(errors),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Internal(cause) => write!(f, "internal: {cause}"),
            Error::Unavailable(cause) => write!(f, "unavailable: {cause}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        if crate::db::is_disk_full(&e) {
            log::error!(
                "cannot write the database: the disk is full or the file is over its size \
                 limit ({e}); requests answer 503 until there is room"
            );
            Error::Unavailable(format!("database: {e}"))
        } else if crate::db::is_unavailable(&e) {
            // Away, busy or out of its budget for now: try again later.
            Error::Unavailable(format!("database: {e}"))
        } else {
            Error::Internal(format!("database: {e}"))
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Error::Invalid(errors)
    }
}
