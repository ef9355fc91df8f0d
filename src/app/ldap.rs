//! The city's directory over LDAP (Active Directory or OpenLDAP): the service
//! account finds the user's entry, then a simple bind as that entry checks the
//! password. `ldap3`'s synchronous client blocks, so this runs where the use
//! cases run: on the web layer's blocking pool.

use std::time::Duration;

use ldap3::{ldap_escape, LdapConn, LdapConnSettings, LdapResult, Scope, SearchEntry};

use crate::settings::LdapSettings;

/// What the directory holds about a user who proved their password.
#[derive(Debug, Clone)]
pub struct DirectoryEntry {
    pub dn: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The values of the department attribute.
    pub departments: Vec<String>,
}

/// The answer of the directory to a login and password.
#[derive(Debug)]
pub enum Bind {
    Accepted(DirectoryEntry),
    /// No such user, several, or a wrong password: one answer for all.
    Refused,
}

/// The directory cannot answer now (down, slow, or the service account refused):
/// the cause, for the log.
#[derive(Debug)]
pub struct Unreachable(pub String);

/// invalidCredentials, inappropriateAuthentication, unwillingToPerform (a locked
/// or expired account in Active Directory comes as 49 or 53).
const REFUSING_CODES: &[u32] = &[48, 49, 50, 53];

pub struct Ldap {
    settings: LdapSettings,
}

impl Ldap {
    pub fn new(settings: LdapSettings) -> Ldap {
        Ldap { settings }
    }

    /// Checks a login (what `{login}` in the filter stands for) and password.
    pub fn check(&self, login: &str, password: &str) -> Result<Bind, Unreachable> {
        // An empty password would be an unauthenticated bind, which LDAP servers
        // answer with success.
        if password.is_empty() || login.is_empty() {
            return Ok(Bind::Refused);
        }
        let s = &self.settings;
        let timeout = Duration::from_secs(s.timeout_secs);
        let mut conn =
            LdapConn::with_settings(LdapConnSettings::new().set_conn_timeout(timeout), &s.url)
                .map_err(|e| Unreachable(format!("connect to {}: {e}", s.url)))?;
        if !s.bind_dn.is_empty() {
            conn.with_timeout(timeout)
                .simple_bind(&s.bind_dn, &s.bind_password)
                .and_then(LdapResult::success)
                .map_err(|e| Unreachable(format!("service account bind: {e}")))?;
        }
        let filter = s.user_filter.replace("{login}", &ldap_escape(login));
        let attributes = ["mail", "cn", "displayName", s.department_attribute.as_str()];
        let (entries, _) = conn
            .with_timeout(timeout)
            .search(&s.user_base, Scope::Subtree, &filter, attributes.to_vec())
            .and_then(|r| r.success())
            .map_err(|e| Unreachable(format!("search {filter}: {e}")))?;
        // Active Directory adds references to its other partitions: not entries.
        let entries: Vec<_> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .collect();
        if entries.len() != 1 {
            if entries.len() > 1 {
                log::warn!(
                    "directory: {} entries match {filter}; sign-in refused",
                    entries.len()
                );
            }
            let _ = conn.unbind();
            return Ok(Bind::Refused);
        }
        let entry = entries
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .ok_or_else(|| Unreachable("search: entry vanished".into()))?;
        let bound = conn
            .with_timeout(timeout)
            .simple_bind(&entry.dn, password)
            .map_err(|e| Unreachable(format!("user bind: {e}")))?;
        let _ = conn.unbind();
        match bound.rc {
            0 => Ok(Bind::Accepted(DirectoryEntry {
                email: first(&entry, "mail"),
                name: first(&entry, "displayName").or_else(|| first(&entry, "cn")),
                departments: values(&entry, &s.department_attribute),
                dn: entry.dn,
            })),
            rc if REFUSING_CODES.contains(&rc) => Ok(Bind::Refused),
            rc => Err(Unreachable(format!(
                "user bind: result code {rc} {}",
                bound.text
            ))),
        }
    }
}

/// An attribute's values; names are case-insensitive in LDAP.
fn values(entry: &SearchEntry, name: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.iter().map(|v| v.trim().to_string()))
        .filter(|v| !v.is_empty())
        .collect()
}

fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    values(entry, name).into_iter().next()
}
