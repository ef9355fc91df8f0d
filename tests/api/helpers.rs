//! `spawn_app`: the real application on port 0 with a fresh database and a small
//! fixture organisation, plus an HTTP client that returns status and JSON.

use std::sync::mpsc;
use std::sync::OnceLock;

use diesel::r2d2::PooledConnection;
use digicon::db::departments::{self, NewDepartment};
use digicon::db::users::{self, NewUser};
use digicon::db::{self, ConnectionManager, Pool};
use digicon::settings::Settings;
use digicon::startup::Application;
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fixture user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
}

/// The fixture organisation:
/// 総務局 → DX推進課 (DX office); 市民局 → 市民課 → 住民記録係, and 保育課.
pub struct Org {
    pub dx_division: i64,
    pub shimin_bureau: i64,
    pub shimin_division: i64,
    pub shimin_section: i64,
    pub hoiku_division: i64,
    /// In a section of 市民課.
    pub requester: User,
    /// In 市民課 itself.
    pub colleague: User,
    /// In 保育課.
    pub outsider: User,
    pub dx: User,
    pub se: User,
    pub se2: User,
    /// Manager of 市民局.
    pub manager: User,
    /// Manager of 保育課.
    pub other_manager: User,
    /// Manager in the DX office.
    pub dx_manager: User,
    pub admin: User,
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub pool: Pool,
    pub org: Org,
    pub settings: Settings,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server so its database connections close with the test.
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(false));
    }
}

/// One argon2 hash of `PASSWORD`, computed once per test process.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| digicon::domain::password::hash(PASSWORD).expect("hash"))
}

/// The settings of a test app: a temporary folder, port 0, a fixed JWT secret.
pub fn test_settings(backend: Backend, dir: &std::path::Path) -> Option<Settings> {
    let mut settings = Settings::defaults(dir);
    settings.bind = "127.0.0.1:0".into();
    settings.jwt_secret = "test secret shared by instances, 32 bytes or more".into();
    settings.workers = Some(2);
    settings.db_pool_size = 4;
    settings.worker_poll_ms = 50;
    settings.sla_sweep_secs = 3600;
    settings.mail_retry_base_secs = 1;
    settings.mail_concurrency = 2;
    // Every test signs its fixture users in from one address; the tests of the
    // limit itself set their own.
    settings.login_attempts_per_address_per_minute = 1_000;
    // Tests read the dashboard right after changing what it counts.
    settings.dashboard_cache_ms = 0;
    if backend == Backend::Postgres {
        settings.database_url = crate::postgres::fresh_database_url()?;
    }
    Some(settings)
}

/// Starts an application on existing settings (for a second instance on the same database).
pub fn start(settings: Settings) -> (String, actix_web::dev::ServerHandle) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = match Application::build(settings) {
                Ok(app) => app,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok((app.port(), app.handle())));
            let _ = app.run_until_stopped().await;
        })
    });
    let (port, handle) = rx
        .recv()
        .expect("server thread")
        .expect("application starts");
    (format!("http://127.0.0.1:{port}"), handle)
}

/// The app on a fresh database, or `None` when PostgreSQL is not available here
/// (outside CI only; see `postgres.rs`).
pub fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {})
}

/// Like `spawn_app`, with settings changed first.
pub fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(backend, dir.path())?;
    configure(&mut settings);
    Some(spawn_app_in(dir, settings))
}

/// The app on its settings (any database URL), seeded with the fixture.
pub fn spawn_app_in(dir: tempfile::TempDir, settings: Settings) -> TestApp {
    let (base, handle) = start(settings.clone());
    let pool = db::build_pool(&settings.database_url, 2).expect("test pool");
    let org = {
        let mut conn = pool.get().expect("connection");
        seed(&mut conn)
    };
    TestApp {
        base,
        database_url: settings.database_url.clone(),
        pool,
        org,
        settings,
        handle,
        _dir: dir,
    }
}

fn department(
    conn: &mut db::DbConn,
    code: &str,
    name: &str,
    kind: &str,
    parent: Option<i64>,
    dx: bool,
) -> i64 {
    departments::insert(
        conn,
        &NewDepartment {
            code,
            name,
            kind,
            parent_id: parent,
            is_dx_office: dx,
            created_at: db::now(),
        },
    )
    .expect("department")
    .id
}

fn user(conn: &mut db::DbConn, email: &str, name: &str, role: &str, department_id: i64) -> User {
    let now = db::now();
    let row = users::insert(
        conn,
        &NewUser {
            email,
            name,
            password_hash: password_hash(),
            role: digicon::domain::Role::parse(role).expect("role"),
            department_id,
            locale: "ja",
            created_at: now,
            updated_at: now,
        },
    )
    .expect("user");
    User {
        id: row.id,
        email: row.email,
    }
}

fn seed(conn: &mut PooledConnection<ConnectionManager>) -> Org {
    let somu = department(conn, "SOMU", "総務局", "bureau", None, false);
    let dx_division = department(conn, "DX", "DX推進課", "division", Some(somu), true);
    let shimin_bureau = department(conn, "SHIMIN", "市民局", "bureau", None, false);
    let shimin_division = department(
        conn,
        "SHIMINKA",
        "市民課",
        "division",
        Some(shimin_bureau),
        false,
    );
    let shimin_section = department(
        conn,
        "JUKI",
        "住民記録係",
        "section",
        Some(shimin_division),
        false,
    );
    let hoiku_division = department(
        conn,
        "HOIKU",
        "保育課",
        "division",
        Some(shimin_bureau),
        false,
    );
    Org {
        dx_division,
        shimin_bureau,
        shimin_division,
        shimin_section,
        hoiku_division,
        requester: user(
            conn,
            "tanaka@city.test",
            "田中",
            "requester",
            shimin_section,
        ),
        colleague: user(
            conn,
            "yamada@city.test",
            "山田",
            "requester",
            shimin_division,
        ),
        outsider: user(conn, "ito@city.test", "伊藤", "requester", hoiku_division),
        dx: user(conn, "sato@city.test", "佐藤", "dx_office", dx_division),
        se: user(conn, "suzuki@city.test", "鈴木", "helpdesk", dx_division),
        se2: user(conn, "takahashi@city.test", "高橋", "helpdesk", dx_division),
        manager: user(conn, "watanabe@city.test", "渡辺", "manager", shimin_bureau),
        other_manager: user(conn, "kato@city.test", "加藤", "manager", hoiku_division),
        dx_manager: user(conn, "kobayashi@city.test", "小林", "manager", dx_division),
        admin: user(conn, "admin@city.test", "管理", "admin", dx_division),
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reply(response: ureq::Response) -> Reply {
    let status = response.status();
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_string();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or_default().to_string();
            (n, v)
        })
        .collect();
    let text = response.into_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        content_type,
        headers,
    }
}

/// Sends a request to any base URL; never fails on an HTTP status.
pub fn send_to(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = ureq::request(method, &format!("{base}{path}"));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(body) => {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                request = request.set("Content-Type", "application/json");
            }
            request.send_string(body)
        }
        None => request.call(),
    };
    match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => reply(response),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

impl TestApp {
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        send_to(&self.base, method, path, token, body, headers)
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), None, &[])
    }

    /// The content type and raw bytes of a download (a CSV or XLSX export).
    pub fn download(&self, path: &str, token: &str) -> (String, Vec<u8>) {
        let response = ureq::get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("download");
        let content_type = response
            .header("content-type")
            .unwrap_or_default()
            .to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).expect("body");
        (content_type, bytes)
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send("POST", path, Some(token), Some(&body.to_string()), &[])
    }

    pub fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send("PATCH", path, Some(token), Some(&body.to_string()), &[])
    }

    /// Logs in over HTTP and returns the bearer token.
    pub fn login(&self, user: &User) -> String {
        let reply = self.send(
            "POST",
            "/api/v1/auth/token",
            None,
            Some(&serde_json::json!({ "email": user.email, "password": PASSWORD }).to_string()),
            &[],
        );
        assert_eq!(
            reply.status, 200,
            "login of {}: {:?}",
            user.email, reply.body
        );
        reply.body["token"].as_str().expect("token").to_string()
    }

    /// Files a consultation as `token` and returns it.
    pub fn file(&self, token: &str, title: &str) -> Value {
        let reply = self.post(
            "/api/v1/consultations",
            token,
            serde_json::json!({
                "title": title,
                "body": "紙の申請書を毎月300件手入力しています。",
                "category": "e_application",
            }),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }

    /// Fires an event with the consultation's current version.
    pub fn fire(&self, token: &str, consultation: &Value, event: &str, fields: Value) -> Reply {
        let mut body = fields;
        body["event"] = event.into();
        body["version"] = consultation["version"].clone();
        self.post(
            &format!("/api/v1/consultations/{}/transitions", consultation["id"]),
            token,
            body,
        )
    }

    /// Fires an event that must succeed and returns the new consultation.
    pub fn must_fire(
        &self,
        token: &str,
        consultation: &Value,
        event: &str,
        fields: Value,
    ) -> Value {
        let reply = self.fire(token, consultation, event, fields);
        assert_eq!(reply.status, 200, "{event}: {:?}", reply.body);
        reply.body
    }

    pub fn timeline(&self, token: &str, id: &Value) -> Vec<Value> {
        let reply = self.get(&format!("/api/v1/consultations/{id}/events"), token);
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["items"].as_array().cloned().unwrap_or_default()
    }

    /// The consultation as staff see it now (straight from the API).
    pub fn current(&self, id: &Value) -> Value {
        let token = self.login(&self.org.admin);
        self.get(&format!("/api/v1/consultations/{id}"), &token)
            .body
    }
}

/// A hearing time comfortably in the future.
pub fn future_hearing() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7))
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("offset"))
        .format("%Y-%m-%dT10:00:00+09:00")
        .to_string()
}

/// The date `days` from today in the display zone (JST), `YYYY-MM-DD`: hearing
/// times built from it stay in the future whenever the suite runs.
pub fn jst_date_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("offset"))
        .format("%Y-%m-%d")
        .to_string()
}

/// Runs each named test function on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() {
                let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).expect("sqlite app");
                super::$name(&app)
            } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres) {
                    super::$name(&app)
                }
            } )*
        }
    };
}
