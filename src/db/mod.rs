//! Persistence: one diesel connection type over SQLite and PostgreSQL, the pool that
//! hands it out, migrations, and the queries of each table in its own module.

pub mod attachments;
pub mod comments;
pub mod consultations;
pub mod dashboard;
pub mod departments;
pub mod effects;
pub mod events;
pub mod faq;
pub mod imports;
pub mod inquiries;
pub mod outbox;
pub mod password_resets;
pub mod reorg;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod stats;
pub mod systems;
pub mod types;
pub mod users;

use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::private_files;

/// One connection type for both backends; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database a `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A file path.
    Sqlite(String),
    /// A libpq URL.
    Postgres(String),
}

impl Backend {
    /// Chooses the backend by the URL's scheme, so a bad PostgreSQL URL reports the
    /// real libpq error instead of diesel's generic multi-connection one.
    pub fn from_url(url: &str) -> Result<Backend, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Backend::Sqlite(path.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            Ok(Backend::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres(without_gssapi_by_default(url)))
        } else {
            Err(format!(
                "DATABASE_URL must start with sqlite:// or postgres:// (got {:?})",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }
}

/// Adds `gssencmode=disable` to a libpq URL that does not choose a `gssencmode`.
/// libpq's default (`prefer`) loads libkrb5 and probes for a Kerberos ticket on
/// every connection; a process that exits while another thread does that can
/// abort inside libkrb5 (`k5_mutex_lock: Assertion 'r == 0' failed`, diesel
/// issue #3226). A deployment that uses GSSAPI names `gssencmode` in its URL.
fn without_gssapi_by_default(url: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let names_it = query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("gssencmode"));
    if names_it {
        url.to_string()
    } else if query.is_empty() {
        format!("{}?gssencmode=disable", url.trim_end_matches('?'))
    } else {
        format!("{}&gssencmode=disable", url.trim_end_matches('&'))
    }
}

/// An r2d2 manager that opens the backend the URL names and sets SQLite's pragmas.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    backend: Backend,
    /// PostgreSQL gives up on a statement after this long, and SQLite on waiting
    /// for the write lock (the server's pool, so that no request holds a
    /// connection for long; elsewhere SQLite waits 10 s).
    statement_timeout_ms: Option<u64>,
}

impl ConnectionManager {
    pub fn new(backend: Backend) -> Self {
        ConnectionManager {
            backend,
            statement_timeout_ms: None,
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers go on while one writer writes; the busy timeout makes
                // writers queue instead of failing; foreign keys are off by default.
                // Memory-mapped reads spare a copy of every page read from the OS
                // cache: filing at a million consultations went from ~400 to ~550 a
                // second (benches/search.rs). The mapped pages are the OS's file
                // cache, but they count in the process's resident set: 128 MiB keeps
                // the hot indexes mapped (1 GiB raised VmHWM at 1M from 129 to 211 MiB
                // for no throughput).
                let busy_ms = self.statement_timeout_ms.unwrap_or(10_000);
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 134217728;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
            Backend::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                if let Some(ms) = self.statement_timeout_ms {
                    conn.batch_execute(&format!("SET statement_timeout = {ms}"))
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConn::Postgresql(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// For SQLite, creates the database file (and its folder) for the owner alone
/// before SQLite opens it: SQLite creates a file 0644 under the usual umask, and
/// gives the `-wal` and `-shm` files the database file's mode. A database left
/// readable by an earlier version is tightened. Special names (`:memory:`,
/// `file:` URIs) are left to SQLite.
fn prepare_sqlite_file(backend: &Backend) -> Result<(), String> {
    let Backend::Sqlite(path) = backend else {
        return Ok(());
    };
    if path.is_empty() || path.starts_with(':') || path.starts_with("file:") {
        return Ok(());
    }
    let path = Path::new(path);
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            private_files::create_dir(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
    }
    match private_files::create_new(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{}{suffix}", path.display());
        private_files::restrict(Path::new(&file))
            .map_err(|e| format!("cannot restrict {file}: {e}"))?;
    }
    Ok(())
}

/// One connection outside any pool (for commands that run once and exit).
pub fn establish(database_url: &str) -> Result<DbConn, String> {
    let backend = Backend::from_url(database_url)?;
    prepare_sqlite_file(&backend)?;
    ConnectionManager::new(backend)
        .connect()
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

/// Builds the pool. For SQLite the file and its folder are created first.
pub fn build_pool(database_url: &str, max_size: u32) -> Result<Pool, String> {
    pool_of(
        ConnectionManager::new(Backend::from_url(database_url)?),
        max_size,
        Duration::from_secs(10),
    )
}

/// The server's pool: on PostgreSQL every statement gives up after
/// `statement_timeout_ms` (0: never) and SQLite waits that long for the write lock
/// (0: 10 s), so a request answers "unavailable" instead
/// of holding a connection for long. A request waits at most `connection_timeout`
/// for a connection: while the database is away it answers 503 within it, and
/// the pool connects again by itself once the database is back.
pub fn build_server_pool(
    database_url: &str,
    max_size: u32,
    statement_timeout_ms: u64,
    connection_timeout: Duration,
) -> Result<Pool, String> {
    let mut manager = ConnectionManager::new(Backend::from_url(database_url)?);
    manager.statement_timeout_ms = (statement_timeout_ms > 0).then_some(statement_timeout_ms);
    pool_of(manager, max_size, connection_timeout)
}

fn pool_of(
    manager: ConnectionManager,
    max_size: u32,
    connection_timeout: Duration,
) -> Result<Pool, String> {
    prepare_sqlite_file(&manager.backend)?;
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(connection_timeout)
        .build(manager)
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies pending migrations. On PostgreSQL an advisory lock makes instances that
/// start together take turns.
pub fn run_migrations(conn: &mut DbConn) -> Result<(), MigrationError> {
    match conn {
        DbConn::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS)?;
        }
        DbConn::Postgresql(c) => {
            c.batch_execute("SELECT pg_advisory_lock(4242001)")?;
            let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            c.batch_execute("SELECT pg_advisory_unlock(4242001)")?;
            result?;
        }
    }
    Ok(())
}

/// Whether every embedded migration has been applied (for `/readyz`).
pub fn migrations_applied(conn: &mut DbConn) -> Result<bool, MigrationError> {
    let pending = match conn {
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS)?,
        DbConn::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS)?,
    };
    Ok(!pending)
}

/// Writes a consistent copy of a live SQLite database to `target` with `VACUUM INTO`:
/// it reads inside one transaction, so the copy is a snapshot even while other
/// connections write (WAL lets them go on), and the copy is compacted. SQLite's
/// C backup API would need `unsafe`, which this crate forbids.
pub fn backup(conn: &mut DbConn, target: &Path) -> Result<(), String> {
    let DbConn::Sqlite(c) = conn else {
        return Err(
            "backup copies SQLite databases; for PostgreSQL use pg_dump (see the README)".into(),
        );
    };
    let name = target
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", target.display()))?;
    // The copy holds everything the database does: create it empty for the owner
    // alone (VACUUM INTO fills an empty file and keeps its mode). Creating it
    // exclusively also means an existing file is never overwritten.
    match private_files::create_new(target) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!("{name} already exists; choose a new file"));
        }
        Err(e) => return Err(format!("cannot create {name}: {e}")),
    }
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(c)
        .map(|_| ())
        .map_err(|e| {
            let _ = std::fs::remove_file(target);
            format!("backup to {name} failed: {e}")
        })
}

/// The current time as stored: UTC, truncated to microseconds so both backends
/// hold exactly the same value.
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// Whether PostgreSQL cancelled a statement for taking longer than its
/// `statement_timeout` (SQLSTATE 57014).
pub fn is_statement_timeout(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(_, info)
            if info.message().contains("statement timeout")
    )
}

/// Whether a statement failed because the database is away or cannot take the
/// write for now, so the same request may well succeed in a few seconds: a
/// statement past its budget, a connection the server closed (PostgreSQL stopped
/// or restarting), SQLite busy or locked past its busy timeout, or a full disk.
pub fn is_unavailable(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const PASSING: &[&str] = &[
        "statement timeout",
        "database is locked",
        "database is busy",
        "database table is locked",
        "database or disk is full",
        "disk i/o error",
        "no space left on device",
        "could not extend file",
        "terminating connection",
        "the database system is",
        "server closed the connection",
        "no connection to the server",
        "connection to server",
        "could not connect",
    ];
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            PASSING.iter().any(|p| message.contains(p))
        }
        _ => false,
    }
}

/// Whether an error is the disk (or the file-size limit) running out of room.
/// SQLite says "database or disk is full" when a write comes up short and "disk
/// I/O error" when it fails outright (`EFBIG` past a file-size limit).
pub fn is_disk_full(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(_, info)
            if ["database or disk is full", "disk i/o error", "no space left on device", "could not extend file"]
                .iter()
                .any(|p| info.message().to_ascii_lowercase().contains(p))
    )
}

/// Whether an error is a unique-constraint violation (a lost race on insert).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_disable_gssapi_unless_they_choose() {
        let url = |u: &str| match Backend::from_url(u) {
            Ok(Backend::Postgres(url)) => url,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            url("postgres://app@db/digicon"),
            "postgres://app@db/digicon?gssencmode=disable"
        );
        assert_eq!(
            url("postgresql://app@db/digicon?sslmode=require"),
            "postgresql://app@db/digicon?sslmode=require&gssencmode=disable"
        );
        assert_eq!(
            url("postgres://app@db/digicon?gssencmode=require"),
            "postgres://app@db/digicon?gssencmode=require"
        );
        assert_eq!(
            url("postgres://app@db/digicon?sslmode=disable&gssencmode=prefer"),
            "postgres://app@db/digicon?sslmode=disable&gssencmode=prefer"
        );
        assert_eq!(
            Backend::from_url("sqlite://data/digicon.db"),
            Ok(Backend::Sqlite("data/digicon.db".into()))
        );
    }
}
