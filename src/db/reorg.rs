//! The statements of a reorganisation (`app::reorg`): what the plan needs to
//! know about the directory, and the moves a merge, a move or a transfer make.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::consultations::Consultation;
use super::inquiries::Inquiry;
use super::schema::{consultations, departments, inquiries, systems, users};
use super::DbConn;
use crate::domain::inquiry::InquiryState;
use crate::domain::State;

/// States a consultation is finished in; it then keeps its department for good.
const FINISHED: [State; 2] = [State::Closed, State::Withdrawn];
const INQUIRY_FINISHED: [InquiryState; 2] = [InquiryState::Closed, InquiryState::Escalated];

/// Takes the directory for this transaction before its first read. On SQLite a
/// transaction that reads and then writes fails at once (busy snapshot) when
/// another writer commits in between, where a write first waits out the busy
/// timeout; on PostgreSQL the lock keeps a second import or an admin's edit from
/// changing the tree between the plan and its application.
pub fn lock_directory(conn: &mut DbConn) -> QueryResult<()> {
    let statement = match conn {
        DbConn::Sqlite(_) => "UPDATE departments SET active = active WHERE id = -1",
        DbConn::Postgresql(_) => "LOCK TABLE departments, users IN SHARE ROW EXCLUSIVE MODE",
    };
    diesel::sql_query(statement).execute(conn)?;
    Ok(())
}

/// Active users per department.
pub fn active_people(conn: &mut DbConn) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = users::table
        .filter(users::active.eq(true))
        .group_by(users::department_id)
        .select((users::department_id, count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The states of `all` that are not `finished`: named, so that the state index
/// reads only the open tickets instead of every finished one.
fn open_states<S: Copy + PartialEq>(all: &[S], finished: &[S]) -> Vec<S> {
    all.iter()
        .copied()
        .filter(|s| !finished.contains(s))
        .collect()
}

/// Consultations and inquiries not yet finished, per department.
pub fn open_tickets(conn: &mut DbConn) -> QueryResult<HashMap<i64, i64>> {
    let consultations: Vec<(i64, i64)> = consultations::table
        .filter(consultations::state.eq_any(open_states(State::ALL, &FINISHED)))
        .group_by(consultations::department_id)
        .select((consultations::department_id, count_star()))
        .load(conn)?;
    let inquiries: Vec<(i64, i64)> = inquiries::table
        .filter(inquiries::state.eq_any(open_states(InquiryState::ALL, &INQUIRY_FINISHED)))
        .group_by(inquiries::department_id)
        .select((inquiries::department_id, count_star()))
        .load(conn)?;
    let mut open = HashMap::new();
    for (department, n) in consultations.into_iter().chain(inquiries) {
        *open.entry(department).or_insert(0) += n;
    }
    Ok(open)
}

/// A department's new place, kind or name (`None` leaves a column as it is).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = departments)]
pub struct Reshape {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub parent_id: Option<Option<i64>>,
    pub active: Option<bool>,
}

pub fn reshape(conn: &mut DbConn, id: i64, changes: &Reshape) -> QueryResult<usize> {
    diesel::update(departments::table.find(id))
        .set(changes)
        .execute(conn)
}

/// The unfinished consultations of a department (a merge moves each with an
/// event in its timeline).
pub fn open_consultations(conn: &mut DbConn, department_id: i64) -> QueryResult<Vec<Consultation>> {
    consultations::table
        .filter(consultations::department_id.eq(department_id))
        .filter(consultations::state.ne_all(FINISHED.to_vec()))
        .order(consultations::id.asc())
        .select(Consultation::as_select())
        .load(conn)
}

/// The unfinished inquiries of a department (moved like the consultations).
pub fn open_inquiries(conn: &mut DbConn, department_id: i64) -> QueryResult<Vec<Inquiry>> {
    inquiries::table
        .filter(inquiries::department_id.eq(department_id))
        .filter(inquiries::state.ne_all(INQUIRY_FINISHED.to_vec()))
        .order(inquiries::id.asc())
        .select(Inquiry::as_select())
        .load(conn)
}

/// A merge: the active people and the live ledger systems of `from` go to
/// `into` (its open tickets go one by one with an event each, see
/// [`open_consultations`] and [`open_inquiries`]). Finished tickets stay, so
/// their history keeps the department they were filed in.
pub fn move_contents(
    conn: &mut DbConn,
    from: i64,
    into: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        users::table
            .filter(users::department_id.eq(from))
            .filter(users::active.eq(true)),
    )
    .set((users::department_id.eq(into), users::updated_at.eq(now)))
    .execute(conn)?;
    diesel::update(
        systems::table
            .filter(systems::department_id.eq(from))
            .filter(systems::phase.ne("retired")),
    )
    .set(systems::department_id.eq(into))
    .execute(conn)?;
    Ok(())
}
