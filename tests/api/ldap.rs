//! Directory sign-in against a real OpenLDAP `slapd` that each test starts on a
//! free port, with a generated configuration and directory in a temporary folder
//! (mdb backend), and stops when it ends. Without slapd the tests fail under CI
//! and say why on stderr elsewhere (`postgres::skip`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use digicon::settings::LdapSettings;
use serde_json::{json, Value};

use crate::helpers::{Reply, TestApp, PASSWORD};
use crate::session::Session;

const SUFFIX: &str = "dc=city,dc=test";
const ADMIN_DN: &str = "cn=admin,dc=city,dc=test";
const ADMIN_PASSWORD: &str = "service account secret";
/// The password of every directory user.
const DIRECTORY_PASSWORD: &str = "directory pass 1";

/// A throwaway slapd.
pub struct Slapd {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

fn slapd_bin(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/local/sbin", "/usr/libexec"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// The generated directory: people under `ou=people` with `mail`, `cn`,
/// `departmentNumber` (a department code of the fixture, or one it lacks) and a
/// password. tanaka@city.test is also a local account of the fixture.
fn directory_ldif() -> String {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: City\ndc: city\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n"
    );
    for (uid, cn, department) in [
        ("nakamura", "中村 花子", "HOIKU"),
        ("kimura", "木村 次郎", "NO-SUCH-DEPT"),
        ("tanaka", "田中 (directory)", "JUKI"),
        ("nakano", "中野 三郎", "JUKI"),
    ] {
        ldif.push_str(&format!(
            "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\n\
             cn: {cn}\nsn: {uid}\nmail: {uid}@city.test\ndepartmentNumber: {department}\n\
             userPassword: {DIRECTORY_PASSWORD}\n\n"
        ));
    }
    ldif
}

impl Slapd {
    /// A running server with the generated directory, or `None` (after saying
    /// why) outside CI when slapd is not installed.
    pub fn start() -> Option<Slapd> {
        let (Some(slapd), Some(slapadd)) = (slapd_bin("slapd"), slapd_bin("slapadd")) else {
            crate::postgres::skip(
                "LDAP tests",
                "slapd/slapadd not found (Debian: apt-get install slapd ldap-utils)",
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("db folder");
        // Debian builds the mdb backend as a module; others build it in.
        let module = if Path::new("/usr/lib/ldap/back_mdb.so").exists() {
            "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
        } else {
            ""
        };
        let config = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n{module}\
             pidfile {dir}/slapd.pid\ndatabase mdb\nmaxsize 10485760\nsuffix \"{SUFFIX}\"\n\
             rootdn \"{ADMIN_DN}\"\nrootpw \"{ADMIN_PASSWORD}\"\ndirectory {db}\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by users read by * none\n",
            dir = dir.path().display(),
            db = db.display(),
        );
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, config).expect("slapd.conf");
        let ldif = dir.path().join("directory.ldif");
        std::fs::write(&ldif, directory_ldif()).expect("ldif");
        let loaded = Command::new(&slapadd)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("slapadd runs");
        assert!(
            loaded.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        // Another process may take the free port between our look and slapd's
        // bind: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = Command::new(&slapd)
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{port}/"))
                .args(["-d", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("slapd starts");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Slapd {
                        port,
                        child,
                        _dir: dir,
                    });
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("slapd did not start");
    }

    /// The app's settings for this directory.
    pub fn settings(&self) -> LdapSettings {
        LdapSettings {
            url: format!("ldap://127.0.0.1:{}", self.port),
            bind_dn: ADMIN_DN.into(),
            bind_password: ADMIN_PASSWORD.into(),
            user_base: format!("ou=people,{SUFFIX}"),
            user_filter: "(&(objectClass=inetOrgPerson)(mail={login}))".into(),
            department_attribute: "departmentNumber".into(),
            timeout_secs: 2,
        }
    }

    /// An outage: the server is gone, its port closed.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sign_in(app: &TestApp, email: &str, password: &str) -> Reply {
    app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"email": email, "password": password}).to_string()),
        &[],
    )
}

fn token(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["token"].as_str().expect("token").to_string()
}

fn users_named(app: &TestApp, email: &str) -> Vec<Value> {
    let admin = app.login(&app.org.admin);
    let list = app.get("/api/v1/users?limit=200", &admin);
    list.body["items"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["email"] == email)
        .cloned()
        .collect()
}

fn the_first_directory_sign_in_creates_the_user_in_their_department(app: &TestApp, _: &mut Slapd) {
    assert!(users_named(app, "nakamura@city.test").is_empty());
    let t = token(&sign_in(app, "Nakamura@City.test", DIRECTORY_PASSWORD));
    let me = app.get("/api/v1/me", &t);
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "nakamura@city.test");
    assert_eq!(me.body["name"], "中村 花子");
    assert_eq!(me.body["role"], "requester");
    assert_eq!(me.body["auth_source"], "directory");
    assert_eq!(
        me.body["department"]["id"], app.org.hoiku_division,
        "{:?}",
        me.body
    );

    // An admin makes them a manager elsewhere; the next sign-in keeps the role
    // and takes the department from the directory again.
    let admin = app.login(&app.org.admin);
    let id = me.body["id"].clone();
    let changed = app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"role": "manager", "department_id": app.org.shimin_division}),
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let t = token(&sign_in(app, "nakamura@city.test", DIRECTORY_PASSWORD));
    let me = app.get("/api/v1/me", &t);
    assert_eq!(me.body["role"], "manager");
    assert_eq!(me.body["department"]["id"], app.org.hoiku_division);
    assert_eq!(users_named(app, "nakamura@city.test").len(), 1);

    // Their password is the directory's: not changed here, and the page says so.
    let refused = app.patch(
        "/api/v1/me",
        &t,
        json!({"current_password": DIRECTORY_PASSWORD, "password": "a new long password"}),
    );
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let mut browser = Session::new(app);
    browser.get("/login");
    let csrf = browser.csrf();
    let page = browser.post(
        "/login",
        &[
            ("_csrf", &csrf),
            ("email", "nakamura@city.test"),
            ("password", DIRECTORY_PASSWORD),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let account = browser.get("/account");
    assert!(account.body.contains("id=\"directory-password\""));
    assert!(!account.body.contains("id=\"password-form\""));
    // No reset link either; and an admin's deactivation holds against the directory.
    let reset = app.send(
        "POST",
        &format!("/api/v1/users/{id}/password-reset"),
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(reset.status, 409, "{:?}", reset.body);
    // Nor a password set by the admin, which nothing would ever ask for.
    let set = app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"password": "an admin's chosen password"}),
    );
    assert_eq!(set.status, 422, "{:?}", set.body);
    assert!(set.body["errors"]["password"].is_array(), "{:?}", set.body);
    let off = app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"active": false}),
    );
    assert_eq!(off.status, 200, "{:?}", off.body);
    let refused = sign_in(app, "nakamura@city.test", DIRECTORY_PASSWORD);
    assert_eq!(refused.status, 401, "{:?}", refused.body);
}

fn simultaneous_first_sign_ins_make_one_account(app: &TestApp, _: &mut Slapd) {
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| sign_in(app, "nakano@city.test", DIRECTORY_PASSWORD)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("sign-in thread"))
            .collect()
    });
    for reply in &replies {
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    assert_eq!(users_named(app, "nakano@city.test").len(), 1);
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn a_wrong_directory_password_gets_the_local_answer_in_comparable_time(
    app: &TestApp,
    _: &mut Slapd,
) {
    let local = sign_in(app, &app.org.requester.email, "wrong password");
    assert_eq!(local.status, 401);
    for (email, password) in [
        ("nakamura@city.test", "wrong password"),
        ("nobody@city.test", "wrong password"),
        // An empty password would be an anonymous bind, which LDAP accepts.
        ("nakamura@city.test", ""),
        // `*` is escaped (RFC 4515): no wildcard finds nakamura alone.
        ("nakam*@city.test", DIRECTORY_PASSWORD),
        ("*", DIRECTORY_PASSWORD),
    ] {
        let reply = sign_in(app, email, password);
        assert_eq!(reply.status, 401, "{email}: {:?}", reply.body);
        assert_eq!(reply.body, local.body, "{email}: the same answer as local");
    }
    assert!(users_named(app, "nakamura@city.test").is_empty());

    // Each attempt from its own client address (through the trusted proxy of
    // `run`), so the per-account backoff of failures does not add its waits.
    let client = std::cell::Cell::new(0);
    let time = |email: &str| {
        client.set(client.get() + 1);
        let address = format!("10.0.0.{}", client.get());
        let body = json!({"email": email, "password": "wrong password"}).to_string();
        let started = Instant::now();
        let reply = app.send(
            "POST",
            "/api/v1/auth/token",
            None,
            Some(&body),
            &[("X-Forwarded-For", &address)],
        );
        let took = started.elapsed();
        assert_eq!(reply.status, 401, "{:?}", reply.body);
        took
    };
    // Warm both paths (the decoy hash, the first connection).
    time("nakamura@city.test");
    time(&app.org.requester.email);
    let (mut ldap, mut local) = (vec![], vec![]);
    for _ in 0..9 {
        ldap.push(time("nakamura@city.test"));
        local.push(time(&app.org.requester.email));
    }
    let (ldap, local) = (median(ldap), median(local));
    eprintln!("wrong password, median of 9: directory {ldap:?}, local {local:?}");
    assert!(
        ldap < local * 3 && local < ldap * 3,
        "directory {ldap:?} and local {local:?} differ more than threefold"
    );
}

fn a_directory_that_is_down_is_a_clear_503_and_local_accounts_still_sign_in(
    app: &TestApp,
    slapd: &mut Slapd,
) {
    token(&sign_in(app, "nakano@city.test", DIRECTORY_PASSWORD));
    slapd.stop();
    for email in ["nakano@city.test", "nakamura@city.test"] {
        let reply = sign_in(app, email, DIRECTORY_PASSWORD);
        assert_eq!(reply.status, 503, "{email}: {:?}", reply.body);
        assert_eq!(reply.body["type"], "urn:digicon:problem:unavailable");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("LDAP"),
            "{:?}",
            reply.body
        );
        assert!(reply.header("retry-after").is_some());
    }
    // The login page says so in the visitor's language.
    let mut browser = Session::new(app);
    browser.get("/login");
    let csrf = browser.csrf();
    let page = browser.post(
        "/login",
        &[
            ("_csrf", &csrf),
            ("email", "nakano@city.test"),
            ("password", DIRECTORY_PASSWORD),
        ],
    );
    assert_eq!(page.status, 503);
    assert!(
        page.body.contains("庁内ディレクトリ（LDAP）に接続できない"),
        "{}",
        page.body
    );
    // Local accounts sign in as before.
    token(&sign_in(app, &app.org.requester.email, PASSWORD));
    let mut browser = Session::new(app);
    assert_eq!(browser.login(&app.org.dx.email).status, 303);
}

fn a_directory_that_never_answers_is_a_503_within_the_timeout(app: &TestApp, _: &mut Slapd) {
    // Takes connections and says nothing (the app points here, see `run`).
    let started = Instant::now();
    let reply = sign_in(app, "nakamura@city.test", DIRECTORY_PASSWORD);
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // More people waiting on the directory than the pool has connections
    // (4 in tests): local sign-ins and reads go on meanwhile.
    std::thread::scope(|scope| {
        let waiting: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| sign_in(app, "nakamura@city.test", DIRECTORY_PASSWORD)))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let t = token(&sign_in(app, &app.org.requester.email, PASSWORD));
        assert_eq!(app.get("/api/v1/me", &t).status, 200);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1000),
            "a local sign-in waited {took:?} behind the directory"
        );
        for reply in waiting {
            assert_eq!(reply.join().expect("sign-in thread").status, 503);
        }
    });
}

fn a_department_the_desk_lacks_refuses_sign_in_with_a_clear_message(app: &TestApp, _: &mut Slapd) {
    let reply = sign_in(app, "kimura@city.test", DIRECTORY_PASSWORD);
    assert_eq!(reply.status, 403, "{:?}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("所属"),
        "{:?}",
        reply.body
    );
    let english = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"email": "kimura@city.test", "password": DIRECTORY_PASSWORD}).to_string()),
        &[("Accept-Language", "en")],
    );
    assert!(
        english.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("matches no department"),
        "{:?}",
        english.body
    );
    assert!(users_named(app, "kimura@city.test").is_empty());
}

fn a_local_account_keeps_its_own_password_beside_the_directory(app: &TestApp, _: &mut Slapd) {
    // tanaka@city.test is in the directory too, with another password.
    let reply = sign_in(app, &app.org.requester.email, DIRECTORY_PASSWORD);
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    let t = token(&sign_in(app, &app.org.requester.email, PASSWORD));
    let me = app.get("/api/v1/me", &t);
    assert_eq!(me.body["department"]["id"], app.org.shimin_section);
    assert_eq!(me.body["name"], "田中");
    assert_eq!(me.body["auth_source"], "local");
}

/// The staff list imported while a directory is configured: people without an
/// `auth` cell are directory accounts and sign in with their directory
/// password at once; `local` ones wait for a reset link.
fn imported_staff_sign_in_through_the_directory(app: &TestApp, _: &mut Slapd) {
    let admin = app.login(&app.org.admin);
    let file = "action,email,name,role,department,auth\n\
                create,nakano@city.test,中野 三郎,helpdesk,HOIKU,\n\
                create,morita@city.test,森田,requester,HOIKU,local\n";
    let imported = app.send(
        "POST",
        "/api/v1/admin/import/users",
        Some(&admin),
        Some(file),
        &[("Content-Type", "text/csv")],
    );
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    assert_eq!(imported.body["changes"][0]["fields"]["auth"], "directory");
    assert_eq!(
        imported.body["changes"][1]["fields"]["auth"], "local",
        "{:?}",
        imported.body
    );

    let t = token(&sign_in(app, "nakano@city.test", DIRECTORY_PASSWORD));
    let me = app.get("/api/v1/me", &t).body;
    assert_eq!(me["auth_source"], "directory");
    assert_eq!(me["role"], "helpdesk", "the file's role is kept");
    assert_eq!(
        me["department"]["code"], "JUKI",
        "the directory's department"
    );
    assert_eq!(users_named(app, "nakano@city.test").len(), 1);

    // morita is not in the directory: no sign-in until an admin sends a link.
    let refused = sign_in(app, "morita@city.test", DIRECTORY_PASSWORD);
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    let morita = users_named(app, "morita@city.test");
    assert_eq!(morita[0]["auth_source"], "local");
    let reset = app.send(
        "POST",
        &format!("/api/v1/users/{}/password-reset", morita[0]["id"]),
        Some(&admin),
        None,
        &[],
    );
    assert_eq!(reset.status, 202, "{:?}", reset.body);
}

/// Runs each test with a fresh slapd on SQLite and PostgreSQL; `silent` ones
/// point the app at a port that accepts and never answers instead.
macro_rules! with_directory {
    ($($name:ident $(: $silent:ident)?),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() {
                super::run(crate::helpers::Backend::Sqlite, super::$name, false $(|| stringify!($silent) == "silent")?);
            } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                super::run(crate::helpers::Backend::Postgres, super::$name, false $(|| stringify!($silent) == "silent")?);
            } )*
        }
    };
}

fn run(backend: crate::helpers::Backend, test: fn(&TestApp, &mut Slapd), silent: bool) {
    let Some(mut slapd) = Slapd::start() else {
        return;
    };
    let mut ldap = slapd.settings();
    let listener = TcpListener::bind("127.0.0.1:0").expect("a silent port");
    if silent {
        ldap.url = format!("ldap://{}", listener.local_addr().expect("address"));
    }
    if let Some(app) = crate::helpers::spawn_app_with(backend, move |s| {
        s.ldap = Some(ldap);
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")];
    }) {
        test(&app, &mut slapd);
    }
    drop(listener);
}

with_directory!(
    the_first_directory_sign_in_creates_the_user_in_their_department,
    a_wrong_directory_password_gets_the_local_answer_in_comparable_time,
    a_directory_that_is_down_is_a_clear_503_and_local_accounts_still_sign_in,
    a_directory_that_never_answers_is_a_503_within_the_timeout: silent,
    a_department_the_desk_lacks_refuses_sign_in_with_a_clear_message,
    a_local_account_keeps_its_own_password_beside_the_directory,
    simultaneous_first_sign_ins_make_one_account,
    imported_staff_sign_in_through_the_directory,
);
