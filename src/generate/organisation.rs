//! The generated city's organisation: ~40 bureaus and wards, ~350 divisions, ~1,500
//! sections and 8,000 staff, built in memory from the names in `city`, written once
//! in bulk, and read back as [`People`]: who files consultations (weighted by how
//! busy their division is) and who works them. Reading back rather than keeping
//! the built city is what lets `--append` reuse an organisation an earlier run made.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::db::schema::{departments, users};
use crate::db::DbConn;
use crate::domain::Role;

use super::calendar::{fy_start, Ctx};
use super::city::{
    BUREAUS, DX_SECTIONS, FAMILY_NAMES, GIVEN_NAMES, SECTIONS, WARDS, WARD_DIVISIONS,
};
use super::texts::pick;
use super::{reserve_ids, GenerateError, EMAIL_DOMAIN, PASSWORD, STAFF};

/// (local part, role, display name) of the users benchmarks log in as.
pub const KNOWN_USERS: &[(&str, Role, &str)] = &[
    ("gen-requester", Role::Requester, "生成 依頼者"),
    ("gen-dx", Role::DxOffice, "生成 DX担当"),
    ("gen-helpdesk", Role::Helpdesk, "生成 SE"),
    ("gen-manager", Role::Manager, "生成 管理職"),
    ("gen-admin", Role::Admin, "生成 管理者"),
];

#[derive(Insertable)]
#[diesel(table_name = departments)]
#[diesel(treat_none_as_default_value = false)]
struct DepartmentRow {
    id: i64,
    code: String,
    name: String,
    kind: &'static str,
    parent_id: Option<i64>,
    is_dx_office: bool,
    active: bool,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_default_value = false)]
struct UserRow<'a> {
    id: i64,
    email: String,
    name: String,
    password_hash: &'a str,
    role: &'static str,
    department_id: i64,
    locale: &'static str,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    mail_opt_out: &'static str,
}

/// Inserts rows of one table in bulk on the backend's own connection: multi-row
/// `INSERT`s of `$chunk` rows on SQLite, binary `COPY` on PostgreSQL.
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {
        match $conn {
            DbConn::Sqlite(c) => {
                for chunk in $rows.chunks($chunk) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
            DbConn::Postgresql(c) => {
                if !$rows.is_empty() {
                    diesel::copy_from($table)
                        .from_insertable($rows)
                        .execute(c)?;
                }
            }
        }
    };
}

fn known_email(local: &str) -> String {
    format!("{local}@{EMAIL_DOMAIN}")
}

/// Creates the generated city unless it is already there (from an earlier run).
/// Returns how many departments and users were created.
pub(super) fn ensure_organisation(
    conn: &mut DbConn,
    ctx: &Ctx,
    seed: u64,
) -> Result<(usize, usize), GenerateError> {
    let marker = known_email("gen-admin");
    let exists = users::table
        .filter(users::email.eq(&marker))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok((0, 0));
    }
    let hash = deterministic_hash(seed)?;
    let created_local = fy_start(ctx.fiscal_years[0]) - Duration::days(30);
    let created_at = ctx.utc(created_local.and_hms_opt(9, 0, 0).unwrap_or_default());
    let (departments_count, users_count) = conn.transaction(|conn| {
        let org = Org::build(seed);
        let first_department = reserve_ids(conn, "departments", org.departments.len())?;
        let first_user = reserve_ids(conn, "users", org.users.len())?;
        let department_rows: Vec<DepartmentRow> = org
            .departments
            .iter()
            .enumerate()
            .map(|(i, d)| DepartmentRow {
                id: first_department + i as i64,
                code: d.code.clone(),
                name: d.name.clone(),
                kind: d.kind,
                parent_id: d.parent.map(|p| first_department + p as i64),
                is_dx_office: d.dx,
                active: true,
                created_at,
            })
            .collect();
        let user_rows: Vec<UserRow> = org
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| UserRow {
                id: first_user + i as i64,
                email: u.email.clone(),
                name: u.name.clone(),
                password_hash: &hash,
                role: u.role.as_str(),
                department_id: first_department + u.department as i64,
                locale: u.locale,
                active: true,
                created_at,
                updated_at: created_at,
                mail_opt_out: "",
            })
            .collect();
        bulk_insert!(conn, departments::table, &department_rows, 2000);
        bulk_insert!(conn, users::table, &user_rows, 2000);
        Ok::<_, diesel::result::Error>((department_rows.len(), user_rows.len()))
    })?;
    Ok((departments_count, users_count))
}

/// One argon2id hash of [`PASSWORD`] for every generated user (hashing 8,000 would
/// take minutes), salted from the seed so the same seed gives the same database.
fn deterministic_hash(seed: u64) -> Result<String, GenerateError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5A17_5A17);
    let salt_bytes: [u8; 16] = rng.gen();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| GenerateError::Failed(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| GenerateError::Failed(format!("cannot hash the password: {e}")))
}

struct OrgDepartment {
    code: String,
    name: String,
    kind: &'static str,
    parent: Option<usize>,
    dx: bool,
}

struct OrgUser {
    email: String,
    name: String,
    role: Role,
    department: usize,
    locale: &'static str,
}

/// The city in memory; indices instead of ids.
struct Org {
    departments: Vec<OrgDepartment>,
    users: Vec<OrgUser>,
}

impl Org {
    /// Adds a member of staff with a random Japanese name.
    fn person(&mut self, rng: &mut StdRng, role: Role, department: usize) {
        let (family, family_romaji) = pick(rng, FAMILY_NAMES);
        let (given, given_romaji) = pick(rng, GIVEN_NAMES);
        let n = self.users.len();
        self.users.push(OrgUser {
            email: format!("{given_romaji}.{family_romaji}.{n:04}@{EMAIL_DOMAIN}"),
            name: format!("{family} {given}"),
            role,
            department,
            locale: if rng.gen_ratio(1, 100) { "en" } else { "ja" },
        });
    }

    fn build(seed: u64) -> Org {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x0C17_u64);
        let mut org = Org {
            departments: Vec::new(),
            users: Vec::new(),
        };
        // Parent before child: the tree is written in this order.
        let units: Vec<(String, &'static str, Vec<String>)> = BUREAUS
            .iter()
            .map(|(name, divisions)| {
                (
                    name.to_string(),
                    "bureau",
                    divisions.iter().map(|d| d.to_string()).collect(),
                )
            })
            .chain(WARDS.iter().map(|ward| {
                (
                    format!("{ward}役所"),
                    "ward",
                    WARD_DIVISIONS
                        .iter()
                        .map(|d| format!("{ward} {d}"))
                        .collect(),
                )
            }))
            .collect();
        let mut sections_of_divisions: Vec<usize> = Vec::new();
        let mut dx_division = 0;
        let mut dx_sections = Vec::new();
        let mut shimin = (0, 0, 0);
        let mut bureau_heads = Vec::new();
        let mut division_heads = Vec::new();
        for (b, (name, kind, divisions)) in units.iter().enumerate() {
            let bureau = org.departments.len();
            bureau_heads.push(bureau);
            org.departments.push(OrgDepartment {
                code: format!("G{:02}0000", b + 1),
                name: name.clone(),
                kind,
                parent: None,
                dx: false,
            });
            for (v, division_name) in divisions.iter().enumerate() {
                let division = org.departments.len();
                let dx = name == "総務局" && division_name == "DX推進課";
                division_heads.push(division);
                org.departments.push(OrgDepartment {
                    code: format!("G{:02}{:02}00", b + 1, v + 1),
                    name: division_name.clone(),
                    kind: "division",
                    parent: Some(bureau),
                    dx,
                });
                let names: Vec<&str> = if dx {
                    dx_division = division;
                    DX_SECTIONS.to_vec()
                } else {
                    let count = rng.gen_range(2..=7);
                    let mut names: Vec<&str> =
                        SECTIONS.choose_multiple(&mut rng, count).copied().collect();
                    if rng.gen_bool(0.7) {
                        names.insert(0, "庶務係");
                        names.truncate(count);
                    }
                    names
                };
                for (s, section_name) in names.iter().enumerate() {
                    let section = org.departments.len();
                    org.departments.push(OrgDepartment {
                        code: format!("G{:02}{:02}{:02}", b + 1, v + 1, s + 1),
                        name: section_name.to_string(),
                        kind: "section",
                        parent: Some(division),
                        dx,
                    });
                    if dx {
                        dx_sections.push(section);
                    } else {
                        sections_of_divisions.push(section);
                    }
                    if name == "市民局" && division_name == "市民課" && s == 0 {
                        shimin = (bureau, division, section);
                    }
                }
            }
        }
        // The users benchmarks log in as come first, so their ids are predictable.
        for (local, role, name) in KNOWN_USERS {
            let department = match role {
                Role::Requester => shimin.2,
                Role::Manager => shimin.0,
                Role::Helpdesk => dx_sections[1],
                Role::DxOffice | Role::Admin => dx_division,
            };
            org.users.push(OrgUser {
                email: known_email(local),
                name: name.to_string(),
                role: *role,
                department,
                locale: "ja",
            });
        }
        // The DX office: a manager who sees everything, triage staff, SEs, admins.
        org.person(&mut rng, Role::Manager, dx_division);
        for _ in 0..2 {
            org.person(&mut rng, Role::Admin, dx_division);
        }
        for i in 0..12 {
            let at = if i % 2 == 0 {
                dx_division
            } else {
                dx_sections[0]
            };
            org.person(&mut rng, Role::DxOffice, at);
        }
        for i in 0..30 {
            let at = dx_sections[1 + i % 2];
            org.person(&mut rng, Role::Helpdesk, at);
        }
        // A head for every bureau, ward and division; a clerk in most divisions.
        for &b in &bureau_heads {
            org.person(&mut rng, Role::Manager, b);
        }
        for &d in &division_heads {
            if d == dx_division {
                continue;
            }
            org.person(&mut rng, Role::Manager, d);
            if rng.gen_bool(0.8) {
                org.person(&mut rng, Role::Requester, d);
            }
        }
        // Everyone else works in a section.
        while org.users.len() < STAFF {
            let section = sections_of_divisions[rng.gen_range(0..sections_of_divisions.len())];
            org.person(&mut rng, Role::Requester, section);
        }
        org
    }
}

/// Who files and who works consultations, as the database has them.
pub(super) struct People {
    /// (user id, division id), with cumulative filing weights.
    pub(super) requesters: Vec<(i64, i64)>,
    pub(super) cumulative: Vec<f64>,
    pub(super) known_requester: Option<(i64, i64)>,
    pub(super) dx: Vec<i64>,
    pub(super) ses: Vec<i64>,
}

impl People {
    pub(super) fn load(conn: &mut DbConn, seed: u64) -> QueryResult<People> {
        let tree: HashMap<i64, (String, Option<i64>)> = departments::table
            .filter(departments::code.like("G%"))
            .select((departments::id, departments::kind, departments::parent_id))
            .load::<(i64, String, Option<i64>)>(conn)?
            .into_iter()
            .map(|(id, kind, parent)| (id, (kind, parent)))
            .collect();
        let division_of = |id: i64| match tree.get(&id) {
            Some((kind, Some(parent))) if kind == "section" => *parent,
            _ => id,
        };
        let staff: Vec<(i64, String, String, i64)> = users::table
            .filter(users::email.like(format!("%@{EMAIL_DOMAIN}")))
            .filter(users::active.eq(true))
            .order(users::id.asc())
            .select((users::id, users::email, users::role, users::department_id))
            .load(conn)?;
        // Some divisions are far busier than others.
        let mut division_ids: Vec<i64> = tree
            .iter()
            .filter(|(_, (kind, _))| kind != "section")
            .map(|(id, _)| *id)
            .collect();
        division_ids.sort_unstable();
        let mut rng = StdRng::seed_from_u64(seed ^ 0xD1_u64);
        let weight: HashMap<i64, f64> = division_ids
            .iter()
            .map(|id| {
                let u: f64 = rng.gen();
                (*id, 0.2 + 6.0 * u * u * u)
            })
            .collect();
        let mut people = People {
            requesters: Vec::new(),
            cumulative: Vec::new(),
            known_requester: None,
            dx: Vec::new(),
            ses: Vec::new(),
        };
        let mut total = 0.0;
        for (id, email, role, department) in staff {
            match Role::parse(&role) {
                Some(Role::Requester) => {
                    let division = division_of(department);
                    if email == known_email("gen-requester") {
                        people.known_requester = Some((id, division));
                    }
                    total += weight.get(&division).copied().unwrap_or(1.0);
                    people.requesters.push((id, division));
                    people.cumulative.push(total);
                }
                Some(Role::DxOffice) => people.dx.push(id),
                Some(Role::Helpdesk) => people.ses.push(id),
                _ => {}
            }
        }
        Ok(people)
    }

    /// A requester and their division; the known requester files one in 500.
    pub(super) fn requester(&self, rng: &mut StdRng) -> (i64, i64) {
        if let Some(known) = self.known_requester {
            if rng.gen_ratio(1, 500) {
                return known;
            }
        }
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.gen::<f64>() * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        self.requesters[i.min(self.requesters.len() - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_organisation_has_the_size_of_a_city() {
        let org = Org::build(7);
        let count = |kind: &str| org.departments.iter().filter(|d| d.kind == kind).count();
        assert_eq!(count("bureau") + count("ward"), 40);
        assert!(
            (330..=360).contains(&count("division")),
            "{}",
            count("division")
        );
        assert!(
            (1350..=1700).contains(&count("section")),
            "{}",
            count("section")
        );
        assert_eq!(org.users.len(), STAFF);
        let codes: std::collections::HashSet<&str> =
            org.departments.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes.len(), org.departments.len(), "codes are unique");
        let emails: std::collections::HashSet<&str> =
            org.users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(emails.len(), org.users.len(), "e-mails are unique");
        for (i, d) in org.departments.iter().enumerate() {
            if let Some(p) = d.parent {
                assert!(p < i, "parents come first");
            }
        }
        assert!(org.departments.iter().filter(|d| d.dx).count() >= 4);
    }
}
