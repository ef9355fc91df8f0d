//! placeholder
use super::{Counts, Ctx, ImportError};
use crate::db::DbConn;
use crate::domain::kintone::Problem;

pub(super) const COLUMNS: &[(&str, bool)] = &[("record_number", true)];

pub(super) fn run(
    _conn: &mut DbConn,
    _ctx: &mut Ctx,
    _dry_run: bool,
) -> Result<Counts, ImportError> {
    Err(ImportError::Problems(vec![Problem::general("todo")]))
}
