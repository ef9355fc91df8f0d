//! The effects report's use cases (issue 20): a fiscal year's figures (live, or
//! as frozen when the DX office closed the year), the years before it and the
//! cumulative 効果額, progress toward the admin's targets; closing a year,
//! reopening it (admins, with a reason, recorded), and the targets' settings.
//!
//! The report is the city's published figure, so it covers the whole ledger for
//! everyone who reads reports (managers, the DX office, admins); system names and
//! divisions are not secret in the ledger either (see `ledger::similar`).

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{App, Caller, Error, Result};
use crate::db::consultations::Scope;
use crate::db::effects::{self, ClosedYear, SettingsRow};
use crate::db::{self, departments, systems, users, DbConn};
use crate::domain::fiscal::fiscal_year;
use crate::domain::ledger::Phase;
use crate::domain::savings::{progress, PhaseChange, Progress, Targets, TargetsInput, YEAR_RANGE};
use crate::domain::Role;
use crate::reports::annual::{year_figures, Organisation, YearFigures, YearLine};

/// Who reads the report: those who read reports.
pub fn may_read(role: Role) -> bool {
    super::reports::sees_reports(role)
}

/// Who closes a year: the DX office (and admins, who may what it may).
pub fn may_close(role: Role) -> bool {
    matches!(role, Role::DxOffice | Role::Admin)
}

/// Who reopens a closed year or sets the targets: admins.
pub fn may_administer(role: Role) -> bool {
    role == Role::Admin
}

/// The first year of the cumulative amount until an admin sets one: 令和元年度.
pub const DEFAULT_START_YEAR: i32 = 2019;

/// A fiscal year the report knows, or 422 on `fiscal_year`.
pub fn checked_year(year: i64) -> Result<i32> {
    if YEAR_RANGE.contains(&year) {
        Ok(year as i32)
    } else {
        Err(Error::invalid_field(
            "fiscal_year",
            "validation.fiscal_year",
        ))
    }
}

fn required_year(year: Option<i64>) -> Result<i32> {
    match year {
        Some(y) => checked_year(y),
        None => Err(Error::invalid_field("fiscal_year", "validation.required")),
    }
}

/// The targets: the admin's, else the start year above, the annual hours target
/// of the environment and the current fiscal year.
pub fn targets(app: &App, conn: &mut DbConn) -> Result<Targets> {
    Ok(match effects::settings(conn)? {
        Some(row) => Targets {
            start_fiscal_year: row.start_fiscal_year,
            target_hours: row.target_hours,
            target_amount: row.target_amount,
            target_fiscal_year: row.target_fiscal_year,
        },
        None => Targets {
            start_fiscal_year: DEFAULT_START_YEAR,
            target_hours: app.effects.annual_target_hours,
            target_amount: None,
            target_fiscal_year: fiscal_year(app.today()),
        },
    })
}

/// Everything a year's figures are computed from, read once.
struct Ledger {
    systems: Vec<systems::System>,
    history: HashMap<i64, Vec<PhaseChange>>,
    organisation: Organisation,
    closed: HashMap<i32, ClosedYear>,
    hours_per_person_year: i64,
}

impl Ledger {
    fn load(app: &App, conn: &mut DbConn) -> Result<Ledger> {
        let systems = systems::list(conn, &Scope::All)?;
        let zone = app.timezone;
        let mut history: HashMap<i64, Vec<PhaseChange>> = HashMap::new();
        for (system_id, to, at) in effects::phase_history(conn)? {
            let Some(to) = Phase::parse(&to) else {
                continue;
            };
            history.entry(system_id).or_default().push(PhaseChange {
                on: at.and_utc().with_timezone(&zone).date_naive(),
                to,
            });
        }
        // Entries with no history of entering production (imported ones) count
        // from the day they were recorded as going live.
        for s in &systems {
            let changes = history.entry(s.id).or_default();
            if let (Some(at), false) = (
                s.production_at,
                changes.iter().any(|c| c.to == Phase::Production),
            ) {
                changes.insert(
                    0,
                    PhaseChange {
                        on: at.and_utc().with_timezone(&zone).date_naive(),
                        to: Phase::Production,
                    },
                );
            }
        }
        let all = departments::list(conn)?;
        let by_id: HashMap<i64, &departments::Department> = all.iter().map(|d| (d.id, d)).collect();
        let bureau_of = all
            .iter()
            .map(|d| {
                let mut top = d;
                let mut steps = 0;
                while let Some(parent) = top.parent_id.and_then(|p| by_id.get(&p)) {
                    top = parent;
                    steps += 1;
                    if steps > 32 {
                        break;
                    }
                }
                (d.id, (top.id, top.name.clone()))
            })
            .collect();
        let department_names = all.iter().map(|d| (d.id, d.name.clone())).collect();
        let closed = effects::closed_years(conn)?
            .into_iter()
            .map(|c| (c.fiscal_year, c))
            .collect();
        Ok(Ledger {
            systems,
            history,
            organisation: Organisation {
                bureau_of,
                department_names,
            },
            closed,
            hours_per_person_year: app.effects.hours_per_person_year,
        })
    }

    fn live(&self, year: i32) -> YearFigures {
        year_figures(
            year,
            &self.systems,
            &self.history,
            &self.organisation,
            self.hours_per_person_year,
        )
    }

    /// A closed year's frozen figures, else the live ones.
    fn figures(&self, year: i32) -> Result<YearFigures> {
        match self.closed.get(&year) {
            Some(c) => serde_json::from_str(&c.figures).map_err(Error::internal),
            None => Ok(self.live(year)),
        }
    }
}

/// One close or reopen, with the name of who did it.
#[derive(Debug, Clone)]
pub struct YearEventLine {
    pub action: String,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub at: NaiveDateTime,
}

/// A fiscal year's report.
#[derive(Debug, Clone)]
pub struct Report {
    pub figures: YearFigures,
    /// When the year was closed (its figures are then frozen).
    pub closed_at: Option<NaiveDateTime>,
    /// Its closes and reopens, oldest first.
    pub history: Vec<YearEventLine>,
    /// From the start year to this one, oldest first.
    pub years: Vec<YearLine>,
    /// 効果額 from the start year to this one.
    pub cumulative_amount: i64,
    pub previous: Option<YearLine>,
    pub targets: Targets,
    pub hours_progress: Progress,
    pub amount_progress: Option<Progress>,
    pub may_close: bool,
    pub may_reopen: bool,
}

/// The report of fiscal year `year` (the current one when `None`).
pub fn report(app: &App, conn: &mut DbConn, caller: &Caller, year: Option<i64>) -> Result<Report> {
    if !may_read(caller.role) {
        return Err(Error::Forbidden);
    }
    let year = match year {
        Some(y) => checked_year(y)?,
        None => fiscal_year(app.today()),
    };
    let ledger = Ledger::load(app, conn)?;
    let targets = targets(app, conn)?;
    let mut years = vec![];
    let mut cumulative = 0;
    for y in targets.start_fiscal_year.min(year)..=year {
        let f = ledger.figures(y)?;
        if y >= targets.start_fiscal_year {
            cumulative += f.effect_amount;
        }
        years.push(YearLine {
            fiscal_year: y,
            hours_saved: f.hours_saved,
            effect_amount: f.effect_amount,
            cumulative_amount: cumulative,
            in_operation: f.in_operation,
            in_house_rate: f.in_house_rate,
            closed: ledger.closed.contains_key(&y),
        });
    }
    let figures = ledger.figures(year)?;
    let events = effects::year_events(conn, year)?;
    let names = users::names(conn, events.iter().filter_map(|e| e.actor_id))?;
    let history = events
        .into_iter()
        .map(|e| YearEventLine {
            actor: e.actor_id.and_then(|id| names.get(&id).cloned()),
            action: e.action,
            reason: e.reason,
            at: e.created_at,
        })
        .collect();
    // The year before, for the comparison, even when it lies before the start year.
    let previous = match years.iter().rev().nth(1) {
        Some(line) => Some(line.clone()),
        None if year > *YEAR_RANGE.start() as i32 => {
            let f = ledger.figures(year - 1)?;
            Some(YearLine {
                fiscal_year: year - 1,
                hours_saved: f.hours_saved,
                effect_amount: f.effect_amount,
                cumulative_amount: 0,
                in_operation: f.in_operation,
                in_house_rate: f.in_house_rate,
                closed: ledger.closed.contains_key(&(year - 1)),
            })
        }
        None => None,
    };
    Ok(Report {
        hours_progress: progress(
            targets.target_hours,
            figures.hours_saved,
            year,
            targets.target_fiscal_year,
        ),
        amount_progress: targets
            .target_amount
            .map(|t| progress(t, cumulative, year, targets.target_fiscal_year)),
        closed_at: ledger.closed.get(&year).map(|c| c.closed_at),
        figures,
        history,
        years,
        cumulative_amount: cumulative,
        previous,
        targets,
        may_close: may_close(caller.role),
        may_reopen: may_administer(caller.role),
    })
}

/// Closes fiscal year `year`: its figures as they are now are kept and shown
/// from then on. `actor` is `None` for the command line.
pub fn close(
    app: &App,
    conn: &mut DbConn,
    actor: Option<&Caller>,
    year: Option<i64>,
) -> Result<YearFigures> {
    if actor.is_some_and(|c| !may_close(c.role)) {
        return Err(Error::Forbidden);
    }
    let year = required_year(year)?;
    if year > fiscal_year(app.today()) {
        return Err(Error::invalid_field(
            "fiscal_year",
            "validation.future_year",
        ));
    }
    let ledger = Ledger::load(app, conn)?;
    if ledger.closed.contains_key(&year) {
        return Err(Error::Conflict("error.year_closed"));
    }
    let figures = ledger.live(year);
    let json = serde_json::to_string(&figures).map_err(Error::internal)?;
    match effects::close(conn, year, &json, actor.map(|c| c.id), db::now()) {
        Ok(()) => Ok(figures),
        Err(e) if db::is_unique_violation(&e) => Err(Error::Conflict("error.year_closed")),
        Err(e) => Err(e.into()),
    }
}

/// Reopens a closed year (admins; the reason is recorded): its figures are live
/// again until it is closed anew.
pub fn reopen(
    conn: &mut DbConn,
    actor: Option<&Caller>,
    year: Option<i64>,
    reason: Option<&str>,
) -> Result<()> {
    if actor.is_some_and(|c| !may_administer(c.role)) {
        return Err(Error::Forbidden);
    }
    let mut errors = crate::domain::FieldErrors::new();
    let year = required_year(year);
    let reason = errors.required_text("reason", reason, 1000);
    if let Err(Error::Invalid(e)) = &year {
        errors.0.extend(e.0.clone());
    }
    errors.into_result()?;
    let year = year?;
    let reason = reason.unwrap_or_default();
    if !effects::reopen(conn, year, actor.map(|c| c.id), &reason, db::now())? {
        return Err(Error::Conflict("error.year_not_closed"));
    }
    Ok(())
}

/// The settings page: the targets as they are (admins only).
pub fn settings(app: &App, conn: &mut DbConn, caller: &Caller) -> Result<Targets> {
    if !may_administer(caller.role) {
        return Err(Error::Forbidden);
    }
    targets(app, conn)
}

/// Saves the targets (admins only).
pub fn save_settings(conn: &mut DbConn, caller: &Caller, input: &TargetsInput) -> Result<Targets> {
    if !may_administer(caller.role) {
        return Err(Error::Forbidden);
    }
    let targets = input.parse()?;
    effects::save_settings(
        conn,
        &SettingsRow {
            start_fiscal_year: targets.start_fiscal_year,
            target_hours: targets.target_hours,
            target_amount: targets.target_amount,
            target_fiscal_year: targets.target_fiscal_year,
            updated_by: Some(caller.id),
            updated_at: db::now(),
        },
    )?;
    Ok(targets)
}
