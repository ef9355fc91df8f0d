//! The `digicon` command line, run as a user would run it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::postgres::fresh_database_url;

pub fn digicon(
    database_url: &str,
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_digicon"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DIGICON_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env("LANG", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("digicon runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("digicon exits")
}

fn the_command_line_creates_departments_and_users_and_refuses_mistakes(database_url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str], stdin: &str| digicon(database_url, dir.path(), args, stdin);

    let migrate = run(&["migrate"], "");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let bureau = run(
        &["department", "add", "--code", "SHIMIN", "--name", "市民局"],
        "",
    );
    assert!(
        bureau.status.success(),
        "{}",
        String::from_utf8_lossy(&bureau.stderr)
    );
    let division = run(
        &[
            "department",
            "add",
            "--code",
            "SHIMINKA",
            "--name",
            "市民課",
            "--parent",
            "SHIMIN",
        ],
        "",
    );
    assert!(division.status.success());
    assert!(String::from_utf8_lossy(&division.stdout).contains("(division)"));

    let orphan = run(
        &[
            "department",
            "add",
            "--code",
            "X",
            "--name",
            "x",
            "--parent",
            "NOPE",
        ],
        "",
    );
    assert_eq!(orphan.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&orphan.stderr).contains("unknown department code \"NOPE\""));

    let add = |role: &str, department: &str, email: &str| {
        run(
            &[
                "user",
                "add",
                "--email",
                email,
                "--name",
                "田中 健",
                "--role",
                role,
                "--department",
                department,
            ],
            "a long password\n",
        )
    };
    let unknown_department = add("requester", "NOPE", "a@city.test");
    assert_eq!(unknown_department.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown_department.stderr).contains("unknown department"));
    let unknown_role = add("wizard", "SHIMINKA", "a@city.test");
    assert_eq!(unknown_role.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown_role.stderr).contains("unknown role"));

    let created = add("requester", "SHIMINKA", "Tanaka@City.Test");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let again = add("requester", "SHIMINKA", "tanaka@city.test");
    assert_eq!(
        again.status.code(),
        Some(2),
        "a taken e-mail is the user's mistake"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("email"));

    let pool = digicon::db::build_pool(database_url, 1).expect("pool");
    let mut conn = pool.get().expect("connection");
    let user = digicon::db::users::find_by_email(&mut conn, "tanaka@city.test")
        .expect("query")
        .expect("user exists");
    assert_eq!(user.role, digicon::domain::Role::Requester);
    assert!(digicon::domain::password::verify(
        "a long password",
        &user.password_hash
    ));
}

#[test]
fn the_command_line_works_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    the_command_line_creates_departments_and_users_and_refuses_mistakes(&url);
}

#[test]
fn the_command_line_works_on_postgres() {
    if let Some(url) = fresh_database_url() {
        the_command_line_creates_departments_and_users_and_refuses_mistakes(&url);
    }
}

#[test]
fn a_bad_database_url_is_reported_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = digicon("mysql://localhost/x", dir.path(), &["migrate"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:// or postgres://"));
    let out = digicon(
        "postgres://nobody@127.0.0.1:1/none",
        dir.path(),
        &["migrate"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connect"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
