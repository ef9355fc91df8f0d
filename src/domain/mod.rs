//! Pure rules of the consultation desk: the workflow table, roles, fiscal years and
//! input validation. Nothing here does I/O, so every rule is unit-tested directly.

pub mod attachment;
pub mod calendar;
pub mod consultation;
pub mod directory;
pub mod effects;
pub mod faq;
pub mod fiscal;
pub mod ids;
pub mod inquiry;
pub mod inquiry_rollup;
pub mod kintone;
pub mod ledger;
pub mod password;
pub mod queue;
pub mod reorg;
pub mod role;
pub mod rollup;
pub mod savings;
pub mod search;
pub mod sla;
pub mod validation;
pub mod workflow;

pub use consultation::{Category, Priority};
pub use role::Role;
pub use validation::FieldErrors;
pub use workflow::{Event, State};
