//! The system ledger's use cases: the list and its filters, similar names,
//! registering (after a look at similar systems), reading an entry, editing it,
//! and the effects. Entries follow the consultations' visibility: a requester sees
//! their division's, a manager their scope's, staff all; anything else is
//! `NotFound`. The ledger is small (a city: ~300 entries; a prefecture:
//! thousands), so a list reads the caller's scope and filters in Rust.

use std::collections::HashMap;

use super::idempotency::{self, Idempotency};
use super::{App, Caller, Error, Result};
use crate::db::consultations::{Consultation, Scope};
use crate::db::departments::{self, Department};
use crate::db::systems::{self, System, SystemEvent};
use crate::db::{self, users, DbConn};
use crate::domain::ids::SystemId;
use crate::domain::ledger::{
    confirmed_after_edit, may_edit, may_register, may_verify, missing_fields, review_overdue,
    Phase, Platform, Proposed, SystemFields, SystemInput, SIMILAR_FROM,
};
use crate::domain::search::normalize;
use crate::domain::Role;
use crate::reports::ledger::{effects, production_year, Effects};

use super::consultations::list::DepartmentRef;

/// The list's filters, parsed.
#[derive(Debug, Clone, Default)]
pub struct SystemFilter {
    pub department: Option<DepartmentRef>,
    pub platform: Option<Platform>,
    pub phase: Option<Phase>,
    /// Only production systems that lack a field or are past their review date.
    pub flagged: bool,
    /// Text in the name (full- and half-width alike).
    pub q: Option<String>,
    /// The fiscal year the systems entered production in (effects only).
    pub fiscal_year: Option<i32>,
}

/// The entries the caller may see that pass the filters, oldest first.
pub fn filtered(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    filter: &SystemFilter,
) -> Result<Vec<System>> {
    let within = match &filter.department {
        None => None,
        Some(d) => {
            let found = match d {
                DepartmentRef::Id(id) => departments::find(conn, *id)?,
                DepartmentRef::Code(code) => departments::find_by_code(conn, code)?,
            };
            Some(match found {
                Some(dep) => departments::subtree_ids(conn, dep.id)?,
                None => vec![],
            })
        }
    };
    let q = filter.q.as_deref().map(normalize);
    let today = app.today();
    Ok(systems::list(conn, &caller.scope)?
        .into_iter()
        .filter(|s| {
            within
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.department_id))
        })
        .filter(|s| filter.platform.is_none_or(|p| s.platform == p))
        .filter(|s| filter.phase.is_none_or(|p| s.phase == p))
        .filter(|s| {
            q.as_ref()
                .is_none_or(|q| normalize(&s.name).contains(q.as_str()))
        })
        .filter(|s| {
            let f = s.fields();
            !filter.flagged || review_overdue(&f, today) || !missing_fields(&f).is_empty()
        })
        .collect())
}

/// One page of entries after the last id seen, and the id the next page starts
/// after (`None`: this was the last).
pub fn list(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    filter: &SystemFilter,
    limit: usize,
    after: Option<i64>,
) -> Result<(Vec<System>, Option<i64>)> {
    let after = after.unwrap_or(0);
    let mut rows: Vec<System> = filtered(app, conn, caller, filter)?
        .into_iter()
        .filter(|s| s.id > after)
        .collect();
    let next = (rows.len() > limit).then(|| rows[limit - 1].id);
    rows.truncate(limit);
    Ok((rows, next))
}

/// A page of the ledger list with what the page shows beside it.
#[derive(Debug)]
pub struct ListPage {
    pub rows: Vec<System>,
    /// The id the next page starts after.
    pub next: Option<i64>,
    /// Every department's name by id.
    pub names: HashMap<i64, String>,
    /// Names of the owners on the page.
    pub owners: HashMap<i64, String>,
    /// The divisions of the caller's scope, to filter by.
    pub divisions: Vec<Department>,
    pub may_register: bool,
}

pub fn list_page(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    filter: &SystemFilter,
    limit: usize,
    after: Option<i64>,
) -> Result<ListPage> {
    let (rows, next) = list(app, conn, caller, filter, limit, after)?;
    let owners = users::names(conn, rows.iter().map(|s| s.owner_id))?;
    Ok(ListPage {
        rows,
        next,
        names: department_names(conn)?,
        owners,
        divisions: divisions(conn, caller)?,
        may_register: may_register(caller.role),
    })
}

fn department_names(conn: &mut DbConn) -> Result<HashMap<i64, String>> {
    Ok(departments::list(conn)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect())
}

/// An existing system whose name or description is like a proposed one.
#[derive(Debug, Clone)]
pub struct Similar {
    pub system: System,
    pub department: String,
    /// 0.0 to 1.0.
    pub score: f64,
}

/// Up to ten entries of the whole ledger most like a proposed system, best first.
/// Names and divisions of other divisions' systems are shown on purpose: a
/// duplicate app is most often one another division already built.
pub fn similar(
    conn: &mut DbConn,
    name: &str,
    description: Option<&str>,
    exclude: Option<i64>,
) -> Result<Vec<Similar>> {
    if name.trim().is_empty() && description.is_none_or(|d| d.trim().is_empty()) {
        return Ok(vec![]);
    }
    let names = department_names(conn)?;
    let proposed = Proposed::new(name, description);
    let mut found: Vec<Similar> = systems::list(conn, &Scope::All)?
        .into_iter()
        .filter(|s| Some(s.id) != exclude)
        .filter_map(|s| {
            let score = proposed.similarity(&s.name, s.workflow_after.as_deref());
            (score >= SIMILAR_FROM).then(|| Similar {
                department: names.get(&s.department_id).cloned().unwrap_or_default(),
                system: s,
                score: (score * 100.0).round() / 100.0,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.system.id.cmp(&b.system.id))
    });
    found.truncate(10);
    Ok(found)
}

/// The divisions of the caller's scope (staff: every division).
fn divisions(conn: &mut DbConn, caller: &Caller) -> Result<Vec<Department>> {
    Ok(departments::list(conn)?
        .into_iter()
        .filter(|d| d.active && d.kind != "section" && caller.scope.contains(d.id))
        .collect())
}

/// The divisions a form lets the caller put an entry in: none for a requester,
/// whose entries belong to their own division; staff choose any.
fn form_divisions(conn: &mut DbConn, caller: &Caller) -> Result<Vec<Department>> {
    if caller.role == Role::Requester {
        return Ok(vec![]);
    }
    divisions(conn, caller)
}

/// The registration form: who may register, and the divisions they may choose.
pub fn new_form(conn: &mut DbConn, caller: &Caller) -> Result<Vec<Department>> {
    if !may_register(caller.role) {
        return Err(Error::Forbidden);
    }
    form_divisions(conn, caller)
}

/// What registering did.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // built once per request; boxing buys nothing
pub enum Registration {
    Registered {
        system: System,
        replayed: bool,
    },
    /// Similar systems exist; the caller must confirm theirs is a different one.
    LooksLike(Vec<Similar>),
}

/// Registers an entry for the caller. With `check_similar`, similar existing
/// systems are shown first instead (DESIGN.md: to stop duplicate apps). With an
/// idempotency key, a retry returns the entry the first request registered.
pub fn register(
    conn: &mut DbConn,
    caller: &Caller,
    input: &SystemInput,
    idempotency: Option<&Idempotency>,
    check_similar: bool,
) -> Result<Registration> {
    let replay = |conn: &mut DbConn, request: &Idempotency| {
        let stored = systems::find_idempotency(conn, caller.id, &request.key)?;
        idempotency::replay(stored, request, |id| Ok(systems::find(conn, id)?))
    };
    if let Some(request) = idempotency {
        if let Some(system) = replay(conn, request)? {
            return Ok(Registration::Registered {
                system,
                replayed: true,
            });
        }
    }
    if !may_register(caller.role) {
        return Err(Error::Forbidden);
    }
    let mut fields = input.parse_new()?;
    if let Some(owner) = owner_by_email(conn, input)? {
        fields.owner_id = Some(owner);
    }
    // The DX office's own entries need no one else to confirm them.
    fields.verified = may_verify(caller.role);
    let (owner_id, department_id) = owner_and_division(conn, caller, &fields)?;
    if check_similar {
        let found = similar(conn, &fields.name, fields.workflow_after.as_deref(), None)?;
        if !found.is_empty() {
            return Ok(Registration::LooksLike(found));
        }
    }
    let registered = systems::register(
        conn,
        &fields,
        department_id,
        owner_id,
        systems::Registrant {
            actor_id: Some(caller.id),
            idempotency: idempotency.map(Idempotency::parts),
        },
        db::now(),
    );
    match registered {
        Ok(system) => Ok(Registration::Registered {
            system,
            replayed: false,
        }),
        // A concurrent retry with the same key won.
        Err(e) if db::is_unique_violation(&e) => {
            match idempotency.map(|r| replay(conn, r)).transpose()?.flatten() {
                Some(system) => Ok(Registration::Registered {
                    system,
                    replayed: true,
                }),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The division an entry belongs to: a requester's own by default; a named one
/// must exist and lie in the caller's scope. The owner must be an active user.
fn owner_and_division(
    conn: &mut DbConn,
    caller: &Caller,
    fields: &SystemFields,
) -> Result<(i64, i64)> {
    let department_id = match fields.department_id {
        Some(id) => {
            if departments::find(conn, id)?.is_none() {
                return Err(Error::invalid_field(
                    "department_id",
                    "validation.unknown_department",
                ));
            }
            if !caller.scope.contains(id) {
                return Err(Error::invalid_field(
                    "department_id",
                    "validation.department_out_of_scope",
                ));
            }
            id
        }
        None if caller.role == Role::Requester => {
            let department = departments::find(conn, caller.department_id)?
                .ok_or_else(|| Error::internal("user without department"))?;
            departments::division_of(conn, &department)?
        }
        None => return Err(Error::invalid_field("department_id", "validation.required")),
    };
    let owner_id = fields.owner_id.unwrap_or(caller.id);
    let Some(owner) = users::find(conn, owner_id)?.filter(|u| u.active) else {
        return Err(Error::invalid_field("owner_id", "validation.unknown_user"));
    };
    // The person who answers for a system works in the division that owns it.
    if !departments::subtree_ids(conn, department_id)?.contains(&owner.department_id) {
        return Err(Error::invalid_field(
            "owner_id",
            "validation.owner_outside_division",
        ));
    }
    Ok((owner_id, department_id))
}

/// The owner an input names by e-mail address, if it does.
fn owner_by_email(conn: &mut DbConn, input: &SystemInput) -> Result<Option<i64>> {
    let Some(email) = input
        .owner_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        return Ok(None);
    };
    match users::find_by_email(conn, email)? {
        Some(user) if user.active => Ok(Some(user.id)),
        _ => Err(Error::invalid_field(
            "owner_email",
            "validation.unknown_user",
        )),
    }
}

/// An entry the caller may see, or `NotFound`.
fn visible(conn: &mut DbConn, caller: &Caller, id: SystemId) -> Result<System> {
    systems::find_visible(conn, id.0, &caller.scope)?.ok_or(Error::NotFound)
}

/// An entry with what the page and the API show beside it.
#[derive(Debug)]
pub struct Entry {
    pub system: System,
    /// The consultations it came from, as far as the caller may see them.
    pub consultations: Vec<Consultation>,
    /// Its changes, oldest first.
    pub history: Vec<SystemEvent>,
    /// Names of the owner and of everyone in the history.
    pub names: HashMap<i64, String>,
    pub department: String,
    pub may_edit: bool,
}

pub fn get(conn: &mut DbConn, caller: &Caller, id: SystemId) -> Result<Entry> {
    let system = visible(conn, caller, id)?;
    let consultations = systems::consultations_of(conn, id.0, &caller.scope)?;
    let history = systems::history(conn, id.0)?;
    let names = users::names(
        conn,
        history
            .iter()
            .filter_map(|e| e.actor_id)
            .chain([system.owner_id]),
    )?;
    let department = departments::find(conn, system.department_id)?
        .map(|d| d.name)
        .unwrap_or_default();
    Ok(Entry {
        may_edit: may_edit(caller.role),
        system,
        consultations,
        history,
        names,
        department,
    })
}

/// The edit form of an entry the caller may edit.
#[derive(Debug)]
pub struct EditForm {
    pub system: System,
    /// The divisions they may move it to.
    pub divisions: Vec<Department>,
    /// Whether they confirm entries (the form offers it).
    pub may_verify: bool,
}

pub fn edit_form(conn: &mut DbConn, caller: &Caller, id: SystemId) -> Result<EditForm> {
    let system = visible(conn, caller, id)?;
    if !may_edit(caller.role) {
        return Err(Error::Forbidden);
    }
    Ok(EditForm {
        system,
        divisions: form_divisions(conn, caller)?,
        may_verify: may_verify(caller.role),
    })
}

/// Edits an entry for the caller, checking who may, the version and the phase rules.
pub fn edit(
    conn: &mut DbConn,
    caller: &Caller,
    id: SystemId,
    input: &SystemInput,
) -> Result<System> {
    let current = visible(conn, caller, id)?;
    if !may_edit(caller.role) {
        return Err(Error::Forbidden);
    }
    let before = current.fields();
    let (version, mut next) = input.parse_edit(&before)?;
    if let Some(owner) = owner_by_email(conn, input)? {
        next.owner_id = Some(owner);
    }
    next.verified = confirmed_after_edit(caller.role, &before, &next, input.verified)
        .ok_or(Error::Forbidden)?;
    if version != current.version {
        return Err(Error::Stale {
            current: current.version,
        });
    }
    if next.department_id != Some(current.department_id) || next.owner_id != Some(current.owner_id)
    {
        owner_and_division(conn, caller, &next)?;
    }
    systems::update(conn, &current, version, &next, caller.id, db::now())?.ok_or(Error::Stale {
        current: version + 1,
    })
}

/// The effects of the entries the caller may see, filtered like the list.
pub fn effects_of(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    filter: &SystemFilter,
) -> Result<Effects> {
    let rows: Vec<System> = filtered(app, conn, caller, filter)?
        .into_iter()
        .filter(|s| {
            filter
                .fiscal_year
                .is_none_or(|year| production_year(s, app.effects.timezone) == Some(year))
        })
        .collect();
    Ok(effects(&rows, app.effects))
}

/// The effects page: the effects, every department's name, and the divisions of
/// the caller's scope to filter by.
#[derive(Debug)]
pub struct EffectsPage {
    pub effects: Effects,
    pub names: HashMap<i64, String>,
    pub divisions: Vec<Department>,
}

pub fn effects_page(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    filter: &SystemFilter,
) -> Result<EffectsPage> {
    Ok(EffectsPage {
        effects: effects_of(app, conn, caller, filter)?,
        names: department_names(conn)?,
        divisions: divisions(conn, caller)?,
    })
}

/// The entries of an export with every department's and user's name for its rows.
#[derive(Debug)]
pub struct Export {
    pub systems: Vec<System>,
    pub departments: HashMap<i64, String>,
    pub people: HashMap<i64, String>,
}

/// The entries of an export, filtered like the list.
pub fn export(
    app: &App,
    conn: &mut DbConn,
    caller: &Caller,
    filter: &SystemFilter,
) -> Result<Export> {
    let systems = filtered(app, conn, caller, filter)?;
    let (departments, people) = super::reports::names(conn)?;
    Ok(Export {
        systems,
        departments,
        people,
    })
}
