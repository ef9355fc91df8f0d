//! Typed settings: defaults of API.md, overridden by environment variables (a `.env`
//! file is read first if present). A fresh checkout runs with none set.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use rand::RngCore;

use crate::domain::sla::SlaPolicy;
use crate::private_files;

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: String,
    /// Unset: mail is written as files under `data/mail/`.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub jwt_secret: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    /// The zone times are shown in.
    pub timezone: Tz,
    pub token_ttl_hours: i64,
    pub reopen_window_days: i64,
    /// Largest attachment and most a ticket carries
    /// (`DIGICON_ATTACHMENT_MAX_MB`, `DIGICON_TICKET_ATTACHMENTS_MAX_MB`).
    pub attachments: crate::domain::attachment::Limits,
    /// How long a computed dashboard is served again (0: never).
    pub dashboard_cache_ms: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Sign-in attempts a client address may make a minute (failures of one
    /// account from one address also back off; see `web::login_limits`).
    pub login_attempts_per_address_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client
    /// (`DIGICON_TRUSTED_PROXIES`: addresses or networks, comma-separated).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub db_pool_size: u32,
    /// HTTP worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Due times per priority and how early reminders go out.
    pub sla: SlaPolicy,
    /// Whether `serve` runs the outbox/SLA worker in-process.
    pub run_worker: bool,
    pub worker_poll_ms: u64,
    pub mail_max_attempts: i32,
    pub mail_retry_base_secs: i64,
    pub sla_sweep_secs: u64,
    /// SMTP connections the worker sends over at once.
    pub mail_concurrency: usize,
    /// How long a worker's claim on a message holds without renewal
    /// (`DIGICON_MAIL_LEASE_SECS`); mail of a dead worker is sent again after it.
    pub mail_lease_secs: i64,
    /// How long the SMTP client waits to connect and for each answer
    /// (`DIGICON_SMTP_TIMEOUT_SECS`).
    pub smtp_timeout_secs: u64,
    /// How long a request waits for a database connection before answering 503
    /// (`DIGICON_DB_CONNECT_TIMEOUT_MS`).
    pub db_connect_timeout_ms: u64,
    /// Working hours of one full-time staff member a year, to express hours saved
    /// as staff (`DIGICON_HOURS_PER_PERSON_YEAR`).
    pub hours_per_person_year: i64,
    /// The city's target of working hours saved a year (`DIGICON_ANNUAL_TARGET_HOURS`).
    pub annual_target_hours: i64,
    /// Bearer token that `/metrics` requires (`DIGICON_METRICS_TOKEN`); unset, it
    /// answers loopback clients only.
    pub metrics_token: Option<String>,
    /// On PostgreSQL, how long one statement of the server may run (0: no limit).
    pub statement_timeout_ms: u64,
    /// The city's directory (`LDAP_*`); `None`: local passwords only.
    pub ldap: Option<LdapSettings>,
    /// How long an admin's password reset link works
    /// (`DIGICON_PASSWORD_RESET_HOURS`).
    pub password_reset_hours: i64,
}

/// Directory sign-in by LDAP simple bind: the service account searches
/// `user_base` with `user_filter`, in which `{login}` stands for what the user
/// typed (escaped per RFC 4515), then the found entry binds with the password.
#[derive(Clone)]
pub struct LdapSettings {
    /// `ldap://host:389` or `ldaps://host:636` (`LDAP_URL`).
    pub url: String,
    /// The service account (`LDAP_BIND_DN`, `LDAP_BIND_PASSWORD`); an empty DN
    /// searches anonymously.
    pub bind_dn: String,
    pub bind_password: String,
    /// Where users are searched, the whole subtree (`LDAP_USER_BASE`).
    pub user_base: String,
    /// `(mail={login})` by default; Active Directory often uses
    /// `(&(objectClass=user)(mail={login}))` (`LDAP_USER_FILTER`).
    pub user_filter: String,
    /// The attribute whose value is a department code (`LDAP_DEPARTMENT_ATTRIBUTE`,
    /// `departmentNumber` by default).
    pub department_attribute: String,
    /// How long connecting and each operation may take before the directory
    /// counts as down (`LDAP_TIMEOUT_SECS`, 3 by default).
    pub timeout_secs: u64,
}

impl fmt::Debug for Settings {
    // Secrets (the JWT key, SMTP passwords) never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("timezone", &self.timezone)
            .field("ldap_url", &self.ldap.as_ref().map(|l| l.url.clone()))
            .finish_non_exhaustive()
    }
}

/// Addresses or networks, comma-separated (`10.0.0.5, 10.1.0.0/16`); `Err` names
/// the part that is neither.
pub fn parse_networks(value: &str) -> Result<Vec<ipnet::IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| part.to_string())
        })
        .collect()
}

/// Hides the password of `scheme://user:password@host`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..start], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Settings {
    /// The defaults of API.md with everything kept under `data_dir`; the JWT secret
    /// is left empty for the caller to fill.
    pub fn defaults(data_dir: &Path) -> Settings {
        Settings {
            database_url: format!("sqlite://{}", data_dir.join("digicon.db").display()),
            bind: "127.0.0.1:8080".into(),
            smtp_url: None,
            mail_from: "digicon@localhost".into(),
            jwt_secret: String::new(),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: data_dir.to_path_buf(),
            timezone: chrono_tz::Asia::Tokyo,
            token_ttl_hours: 12,
            reopen_window_days: 14,
            attachments: crate::domain::attachment::Limits::default(),
            dashboard_cache_ms: 2_000,
            max_body_bytes: 256 * 1024,
            login_attempts_per_address_per_minute: 60,
            trusted_proxies: vec![],
            db_pool_size: 8,
            workers: None,
            sla: SlaPolicy::default(),
            run_worker: true,
            worker_poll_ms: 1000,
            mail_max_attempts: 8,
            mail_retry_base_secs: 30,
            sla_sweep_secs: 60,
            mail_concurrency: 8,
            mail_lease_secs: 20,
            smtp_timeout_secs: 20,
            db_connect_timeout_ms: 3_000,
            hours_per_person_year: 1920,
            annual_target_hours: 100_000,
            metrics_token: None,
            statement_timeout_ms: 5_000,
            ldap: None,
            password_reset_hours: 24,
        }
    }

    /// Where the file transport writes `.eml` files.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Reads the environment. The JWT secret, when not given, is generated on first
    /// start and kept under the data folder so tokens survive restarts.
    pub fn from_env() -> Result<Settings, String> {
        let _ = dotenvy::dotenv();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(var("DIGICON_DATA_DIR").unwrap_or_else(|| "data".into()));
        let mut s = Settings::defaults(&data_dir);
        if let Some(v) = var("DATABASE_URL") {
            s.database_url = v;
        }
        if let Some(v) = var("DIGICON_BIND") {
            s.bind = v;
        }
        s.smtp_url = var("SMTP_URL");
        if let Some(v) = var("MAIL_FROM") {
            s.mail_from = v;
        }
        if let Some(v) = var("DIGICON_PUBLIC_URL") {
            s.public_url = v.trim_end_matches('/').to_string();
        }
        if let Some(v) = var("DIGICON_TIMEZONE") {
            s.timezone = v
                .parse()
                .map_err(|_| format!("DIGICON_TIMEZONE: unknown time zone {v:?}"))?;
        }
        let number =
            |name: &str, default: i64| -> Result<i64, String> {
                match var(name) {
                    None => Ok(default),
                    Some(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("{name}: expected a positive whole number, got {v:?}")
                    }),
                }
            };
        s.token_ttl_hours = number("DIGICON_TOKEN_TTL_HOURS", s.token_ttl_hours)?;
        s.reopen_window_days = number("DIGICON_REOPEN_WINDOW_DAYS", s.reopen_window_days)?;
        if let Some(v) = var("DIGICON_DASHBOARD_CACHE_MS") {
            s.dashboard_cache_ms = v.parse().map_err(|_| {
                format!("DIGICON_DASHBOARD_CACHE_MS: expected a whole number of milliseconds, got {v:?}")
            })?;
        }
        const MB: u64 = 1024 * 1024;
        s.attachments.file_bytes = number(
            "DIGICON_ATTACHMENT_MAX_MB",
            (s.attachments.file_bytes / MB) as i64,
        )? as u64
            * MB;
        s.attachments.ticket_bytes = number(
            "DIGICON_TICKET_ATTACHMENTS_MAX_MB",
            (s.attachments.ticket_bytes / MB) as i64,
        )? as u64
            * MB;
        s.max_body_bytes = number("DIGICON_MAX_BODY_BYTES", s.max_body_bytes as i64)? as usize;
        s.login_attempts_per_address_per_minute = number(
            "DIGICON_LOGIN_ATTEMPTS_PER_ADDRESS",
            i64::from(s.login_attempts_per_address_per_minute),
        )? as u32;
        if let Some(v) = var("DIGICON_TRUSTED_PROXIES") {
            s.trusted_proxies = parse_networks(&v).map_err(|part| {
                format!("DIGICON_TRUSTED_PROXIES: {part:?} is not an address or network")
            })?;
        }
        s.db_pool_size = number("DIGICON_DB_POOL_SIZE", i64::from(s.db_pool_size))? as u32;
        s.worker_poll_ms = number("DIGICON_WORKER_POLL_MS", s.worker_poll_ms as i64)? as u64;
        s.mail_max_attempts =
            number("DIGICON_MAIL_MAX_ATTEMPTS", i64::from(s.mail_max_attempts))? as i32;
        s.mail_retry_base_secs = number("DIGICON_MAIL_RETRY_BASE_SECS", s.mail_retry_base_secs)?;
        s.mail_concurrency =
            number("DIGICON_MAIL_CONCURRENCY", s.mail_concurrency as i64)? as usize;
        s.mail_lease_secs = number("DIGICON_MAIL_LEASE_SECS", s.mail_lease_secs)?;
        s.smtp_timeout_secs =
            number("DIGICON_SMTP_TIMEOUT_SECS", s.smtp_timeout_secs as i64)? as u64;
        s.db_connect_timeout_ms = number(
            "DIGICON_DB_CONNECT_TIMEOUT_MS",
            s.db_connect_timeout_ms as i64,
        )? as u64;
        s.hours_per_person_year = number("DIGICON_HOURS_PER_PERSON_YEAR", s.hours_per_person_year)?;
        s.annual_target_hours = number("DIGICON_ANNUAL_TARGET_HOURS", s.annual_target_hours)?;
        s.sla_sweep_secs = number("DIGICON_SLA_SWEEP_SECS", s.sla_sweep_secs as i64)? as u64;
        s.sla.remind_before = chrono::Duration::hours(number(
            "DIGICON_SLA_REMIND_HOURS",
            s.sla.remind_before.num_hours(),
        )?);
        if let Some(v) = var("DIGICON_SLA_HEARING_DAYS") {
            s.sla.hearing = s
                .sla
                .hearing
                .parse(&v)
                .map_err(|e| format!("DIGICON_SLA_HEARING_DAYS: {e}"))?;
        }
        if let Some(v) = var("DIGICON_SLA_RESOLUTION_DAYS") {
            s.sla.resolution = s
                .sla
                .resolution
                .parse(&v)
                .map_err(|e| format!("DIGICON_SLA_RESOLUTION_DAYS: {e}"))?;
        }
        if let Some(v) = var("DIGICON_WORKER") {
            s.run_worker = match v.as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => return Err(format!("DIGICON_WORKER: expected on or off, got {v:?}")),
            };
        }
        if var("DIGICON_WORKERS").is_some() {
            s.workers = Some(number("DIGICON_WORKERS", 1)? as usize);
        }
        s.jwt_secret = match var("JWT_SECRET") {
            Some(secret) => secret,
            None => {
                let path = data_dir.join("jwt_secret");
                let secret = load_or_create_secret(&path)?;
                check_jwt_secret(&secret).map_err(|e| format!("{}: {e}", path.display()))?;
                secret
            }
        };
        check_jwt_secret(&s.jwt_secret)?;
        s.metrics_token = var("DIGICON_METRICS_TOKEN");
        if let Some(v) = var("DIGICON_STATEMENT_TIMEOUT_MS") {
            s.statement_timeout_ms = v.parse().map_err(|_| {
                format!("DIGICON_STATEMENT_TIMEOUT_MS: expected milliseconds, got {v:?}")
            })?;
        }
        s.password_reset_hours = number("DIGICON_PASSWORD_RESET_HOURS", s.password_reset_hours)?;
        if let Some(url) = var("LDAP_URL") {
            s.ldap = Some(LdapSettings {
                url,
                bind_dn: var("LDAP_BIND_DN").unwrap_or_default(),
                bind_password: var("LDAP_BIND_PASSWORD").unwrap_or_default(),
                user_base: var("LDAP_USER_BASE")
                    .ok_or("LDAP_USER_BASE: required when LDAP_URL is set")?,
                user_filter: var("LDAP_USER_FILTER").unwrap_or_else(|| "(mail={login})".into()),
                department_attribute: var("LDAP_DEPARTMENT_ATTRIBUTE")
                    .unwrap_or_else(|| "departmentNumber".into()),
                timeout_secs: number("LDAP_TIMEOUT_SECS", 3)? as u64,
            });
            if let Some(ldap) = &s.ldap {
                if !ldap.user_filter.contains("{login}") {
                    return Err("LDAP_USER_FILTER: must contain {login}".into());
                }
            }
        }
        Ok(s)
    }
}

/// The shortest signing key accepted: HS256 keys shorter than the hash (32 bytes)
/// can be guessed offline from any one token.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Refuses a signing key that is too short to be safe, saying how to fix it.
pub fn check_jwt_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(format!(
            "JWT_SECRET is {} bytes; it must be at least {MIN_JWT_SECRET_BYTES} bytes \
             (e.g. `openssl rand -hex 32`), or leave it unset to have one generated \
             in the data folder",
            secret.len()
        ));
    }
    Ok(())
}

fn load_or_create_secret(path: &Path) -> Result<String, String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        if !secret.trim().is_empty() {
            return Ok(secret.trim().to_string());
        }
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        private_files::create_dir(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    private_files::write(path, secret.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/digicon"),
            "postgres://app:***@db:5432/digicon"
        );
        assert_eq!(
            redact_url("sqlite://data/digicon.db"),
            "sqlite://data/digicon.db"
        );
    }

    #[test]
    fn a_generated_secret_is_kept_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwt_secret");
        let first = load_or_create_secret(&path).expect("created");
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_secret(&path).expect("read"), first);
        assert!(
            check_jwt_secret(&first).is_ok(),
            "a generated key is long enough"
        );
    }

    #[test]
    fn a_jwt_secret_shorter_than_32_bytes_is_refused() {
        let refused = check_jwt_secret(&"k".repeat(31)).expect_err("too short");
        assert!(refused.contains("JWT_SECRET is 31 bytes"), "{refused}");
        assert!(refused.contains("at least 32 bytes"), "{refused}");
        assert!(check_jwt_secret(&"k".repeat(32)).is_ok());
        // Bytes, not characters: eleven kana are 33 bytes.
        assert!(check_jwt_secret(&"か".repeat(11)).is_ok());
    }
}
