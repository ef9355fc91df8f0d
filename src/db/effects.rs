//! The effects report's tables: the phase history it reckons from, the closed
//! years (their figures frozen as JSON), the append-only record of who closed and
//! reopened which year, and the admin's targets (one row).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{effects_settings, effects_year_events, effects_years, system_events};
use super::DbConn;

/// Every change of phase in the ledger (registration included): system id, the
/// phase it moved to and when (UTC), oldest first.
pub fn phase_history(conn: &mut DbConn) -> QueryResult<Vec<(i64, String, NaiveDateTime)>> {
    system_events::table
        .filter(system_events::event.eq_any(["register", "phase"]))
        .order(system_events::id.asc())
        .select((
            system_events::system_id,
            system_events::to_phase,
            system_events::created_at,
        ))
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = effects_years)]
pub struct ClosedYear {
    pub fiscal_year: i32,
    /// JSON of `reports::annual::YearFigures`.
    pub figures: String,
    pub closed_by: Option<i64>,
    pub closed_at: NaiveDateTime,
}

pub fn closed_years(conn: &mut DbConn) -> QueryResult<Vec<ClosedYear>> {
    effects_years::table
        .order(effects_years::fiscal_year.asc())
        .select(ClosedYear::as_select())
        .load(conn)
}

fn record(
    conn: &mut DbConn,
    fiscal_year: i32,
    action: &str,
    actor_id: Option<i64>,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(effects_year_events::table)
        .values((
            effects_year_events::fiscal_year.eq(fiscal_year),
            effects_year_events::action.eq(action),
            effects_year_events::actor_id.eq(actor_id),
            effects_year_events::reason.eq(reason),
            effects_year_events::created_at.eq(now),
        ))
        .execute(conn)
}

/// Freezes a year's figures with its record; a unique violation when someone
/// closed it first.
pub fn close(
    conn: &mut DbConn,
    fiscal_year: i32,
    figures: &str,
    actor_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::insert_into(effects_years::table)
            .values((
                effects_years::fiscal_year.eq(fiscal_year),
                effects_years::figures.eq(figures),
                effects_years::closed_by.eq(actor_id),
                effects_years::closed_at.eq(now),
            ))
            .execute(conn)?;
        record(conn, fiscal_year, "close", actor_id, None, now)?;
        Ok(())
    })
}

/// Opens a closed year again, with its record; `false` when it was not closed.
pub fn reopen(
    conn: &mut DbConn,
    fiscal_year: i32,
    actor_id: Option<i64>,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let deleted = diesel::delete(effects_years::table.find(fiscal_year)).execute(conn)?;
        if deleted == 0 {
            return Ok(false);
        }
        record(conn, fiscal_year, "reopen", actor_id, Some(reason), now)?;
        Ok(true)
    })
}

/// One close or reopen.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = effects_year_events)]
pub struct YearEvent {
    pub id: i64,
    pub fiscal_year: i32,
    pub action: String,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn year_events(conn: &mut DbConn, fiscal_year: i32) -> QueryResult<Vec<YearEvent>> {
    effects_year_events::table
        .filter(effects_year_events::fiscal_year.eq(fiscal_year))
        .order(effects_year_events::id.asc())
        .select(YearEvent::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = effects_settings)]
pub struct SettingsRow {
    pub start_fiscal_year: i32,
    pub target_hours: i64,
    pub target_amount: Option<i64>,
    pub target_fiscal_year: i32,
    pub updated_by: Option<i64>,
    pub updated_at: NaiveDateTime,
}

pub fn settings(conn: &mut DbConn) -> QueryResult<Option<SettingsRow>> {
    effects_settings::table
        .find(1)
        .select(SettingsRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces the one settings row.
pub fn save_settings(conn: &mut DbConn, row: &SettingsRow) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(effects_settings::table.find(1)).execute(conn)?;
        diesel::insert_into(effects_settings::table)
            .values((
                effects_settings::id.eq(1),
                effects_settings::start_fiscal_year.eq(row.start_fiscal_year),
                effects_settings::target_hours.eq(row.target_hours),
                effects_settings::target_amount.eq(row.target_amount),
                effects_settings::target_fiscal_year.eq(row.target_fiscal_year),
                effects_settings::updated_by.eq(row.updated_by),
                effects_settings::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}
