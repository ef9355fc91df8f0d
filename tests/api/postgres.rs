//! A throwaway PostgreSQL 15 server for the test process: `initdb` into a temporary
//! folder, started on a free port, stopped and removed when the process exits (a
//! watchdog shell waits for our pid). Each test gets a fresh database in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Whether this is a CI run: `CI` set to anything but empty, `false` or `0` (CI
/// services set `CI=true`, some `CI=1`).
pub fn is_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && !v.eq_ignore_ascii_case("false") && v != "0"
    })
}

/// A test that cannot run here: under CI it fails; elsewhere the reason is written
/// straight to stderr, once per kind, because the test harness captures `eprintln!`
/// and the test itself shows as "ok".
pub fn skip(what: &str, reason: &str) {
    if is_ci() {
        panic!("{what} cannot be skipped under CI: {reason}");
    }
    use std::io::Write;
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.iter().any(|w| w == what) {
        said.push(what.to_string());
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {what} did not run and show as ok (set CI=true to make this fail): {reason}"
        );
    }
}

#[test]
fn any_ci_value_but_empty_false_or_0_means_ci() {
    for value in ["true", "1", "yes", "TRUE", "github"] {
        assert!(ci_value_means_ci(Some(value)), "{value}");
    }
    for value in [None, Some(""), Some("false"), Some("0"), Some("False")] {
        assert!(!ci_value_means_ci(value), "{value:?}");
    }
}

struct Server {
    port: u16,
}

/// A PostgreSQL server of one test's own, which the test may stop and start
/// again (an outage) without disturbing the shared one.
pub struct OwnServer {
    pub port: u16,
    bin: PathBuf,
    root: bool,
    data: PathBuf,
    dir: PathBuf,
}

impl OwnServer {
    /// A new server, or `None` (after saying why) outside CI when PostgreSQL is missing.
    pub fn start(name: &str) -> Option<OwnServer> {
        match start_in(name) {
            Ok((port, dir)) => Some(OwnServer {
                port,
                bin: bin_dir(),
                root: is_root(),
                data: dir.join("data"),
                dir,
            }),
            Err(reason) => {
                skip("PostgreSQL tests", &reason);
                None
            }
        }
    }

    /// A new empty database on it.
    pub fn database_url(&self, name: &str) -> String {
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut conn = PgConnection::establish(&admin).expect("connect to the test server");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) {
        let output = pg_command(&self.bin.join("pg_ctl"), self.root)
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .output()
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops the server the way an operator would (`pg_ctl stop -m fast`:
    /// sessions are ended, nothing new is accepted).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Starts it again on the same port.
    pub fn resume(&self) {
        let options = server_options(self.port, &self.dir);
        let log = self.dir.join("server.log");
        let log = log.to_str().expect("a UTF-8 path");
        self.pg_ctl(&["-o", &options, "-l", log, "-w", "start"]);
    }
}

fn server_options(port: u16, dir: &Path) -> String {
    format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        dir.display()
    )
}

const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

fn bin_dir() -> PathBuf {
    PathBuf::from(std::env::var("DIGICON_PG_BIN").unwrap_or_else(|_| DEFAULT_BIN.into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root (initdb
/// refuses to run as root).
fn pg_command(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start() -> Result<Server, String> {
    start_in("shared").map(|(port, _)| Server { port })
}

/// initdb and start a server in a folder of its own, stopped and removed when
/// the test process exits.
fn start_in(name: &str) -> Result<(u16, PathBuf), String> {
    let bin = bin_dir();
    if !bin.join("initdb").exists() {
        return Err(format!("no PostgreSQL binaries in {}", bin.display()));
    }
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("digicon-pg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("cannot chown the PostgreSQL folder to postgres".into());
        }
    }
    let data = dir.join("data");
    let output = pg_command(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let port = free_port();
    let options = server_options(port, &dir);
    let output = pg_command(&bin.join("pg_ctl"), root)
        .arg("-D")
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(dir.join("server.log"))
        .args(["-w", "start"])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        return Err(format!(
            "pg_ctl start failed: {}\n{log}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // Stop and remove the server once this test process has gone, however it ends.
    let stop = if root {
        format!("runuser -u postgres -- {}/pg_ctl", bin.display())
    } else {
        format!("{}/pg_ctl", bin.display())
    };
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok((port, dir))
}

fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| match start() {
            Ok(server) => Some(server),
            Err(reason) => {
                skip("PostgreSQL tests", &reason);
                None
            }
        })
        .as_ref()
}

/// The URL of a new, empty database, or `None` (after saying why) when no
/// PostgreSQL server can be started outside CI.
pub fn fresh_database_url() -> Option<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = server()?;
    let name = format!("digicon_test_{}", NEXT.fetch_add(1, Ordering::SeqCst));
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    let mut conn = PgConnection::establish(&admin).expect("connect to the test server");
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    Some(format!(
        "postgres://postgres@127.0.0.1:{}/{name}",
        server.port
    ))
}
