//! The `digicon` command line of API.md. Input mistakes exit with status 2 and a
//! message saying what to fix; failures of the machinery exit with status 1.

use std::io::{BufRead, IsTerminal, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::reorg::{self, Importing};
use crate::app::{self, directory, App};
use crate::db::DbConn;
use crate::domain::directory::{NewDepartmentInput, NewUserInput};
use crate::generate::{GenerateError, Options};
use crate::i18n::{t, Locale};
use crate::settings::Settings;
use crate::startup::{prepare_connection, prepare_database, Application, RunningWorker};

#[derive(Debug, Parser)]
#[command(name = "digicon", version, about = "DX consultation desk")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations and serve HTTP.
    Serve {
        /// Load a demo organisation, users and consultations if the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Run only the outbox/SLA worker (for deployments that run it apart from the web).
    Worker,
    /// Copy a live SQLite database to a new file (a consistent snapshot; the server
    /// may keep running). For PostgreSQL use pg_dump.
    Backup {
        /// The file to create.
        path: std::path::PathBuf,
    },
    /// Rebuild the search index from the consultations (after a bulk load or restore).
    Reindex,
    /// The effects report: close a fiscal year (its figures never change after) or
    /// reopen it.
    Effects {
        #[command(subcommand)]
        action: EffectsAction,
    },
    /// Manage departments.
    Department {
        #[command(subcommand)]
        action: DepartmentAction,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Import a kintone app's records, or departments and users from CSV (the
    /// April reorganisation).
    Import {
        #[command(subcommand)]
        action: ImportAction,
    },
    /// Fill the database with a generated city and ten fiscal years of consultations
    /// (for benchmarks and demos). Refuses a database that already has consultations
    /// unless --append is given.
    Generate {
        /// How many consultations to generate.
        #[arg(long)]
        consultations: usize,
        /// Seed of the generator: the same seed and --as-of give the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Add to existing consultations: the generated organisation is reused if
        /// present; numbers continue from the counters and ids after the largest.
        #[arg(long)]
        append: bool,
        /// The day the history ends (YYYY-MM-DD, exclusive; default today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Leave the search index empty (about twice as fast; search then finds
        /// none of the generated consultations).
        #[arg(long)]
        no_search_index: bool,
        /// Helpdesk inquiries to add (default: 3.5 per consultation).
        #[arg(long)]
        inquiries: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DepartmentAction {
    /// Create a department.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// Code of the department above it.
        #[arg(long)]
        parent: Option<String>,
        /// bureau, ward, division or section (default: from the parent).
        #[arg(long)]
        kind: Option<String>,
        /// Managers in this department see every division.
        #[arg(long)]
        dx_office: bool,
    },
}

/// What `digicon import` reads. In every case each problem is reported with its
/// line and then nothing changes (exit status 2), and what was imported before
/// is skipped, so a file can be run again. The reorganisation's CSV files are
/// UTF-8 (with or without BOM) or Shift_JIS, with a header line naming the
/// columns (any order) and rows applied in file order.
#[derive(Debug, Subcommand)]
pub enum ImportAction {
    /// Import a kintone app's CSV export (UTF-8, UTF-8 with BOM or Shift_JIS):
    /// every problem is reported with its line, and nothing is imported unless
    /// all of it can be; records imported before are skipped.
    Kintone(KintoneImport),
    /// Departments: `action,code,name,kind,parent,merge_into[,email]`.
    ///
    /// create CODE NAME [KIND] [PARENT]: a new unit (kind from the parent when blank).
    /// update CODE [NAME] [KIND]: rename or change the kind.
    /// move CODE PARENT: put the unit under another parent.
    /// merge CODE MERGE_INTO: active people and open consultations and inquiries go
    /// to MERGE_INTO; CODE is deactivated; its closed ones stay with it.
    /// deactivate CODE: refused while it has active people, open tickets or active
    /// units below it.
    /// transfer CODE EMAIL: the person moves to CODE (people who move with the
    /// units, in the same file).
    #[command(verbatim_doc_comment)]
    Departments {
        /// The CSV file: UTF-8 (with or without BOM) or Shift_JIS, a header line
        /// naming the columns in any order, rows applied from the top.
        file: std::path::PathBuf,
        /// Report what would change and every problem; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Users: `action,email,name,role,department,locale[,auth]`.
    ///
    /// create EMAIL NAME ROLE DEPARTMENT [LOCALE] [AUTH]: a new account without a
    /// password. AUTH directory (the default when LDAP_URL is set) signs in
    /// through the directory; local (the default otherwise) with a reset link.
    /// update EMAIL [NAME] [ROLE] [DEPARTMENT] [LOCALE]: change what is given.
    /// transfer EMAIL DEPARTMENT: move to another department.
    /// deactivate EMAIL: no more sign-in; their records stay.
    #[command(verbatim_doc_comment)]
    Users {
        /// The CSV file: UTF-8 (with or without BOM) or Shift_JIS, a header line
        /// naming the columns in any order, rows applied from the top.
        file: std::path::PathBuf,
        /// Report what would change and every problem; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `digicon import kintone`.
#[derive(Debug, clap::Args)]
pub struct KintoneImport {
    /// digicon, helpdesk or ledger.
    #[arg(long)]
    app: String,
    /// The mapping of kintone field names to ours (TOML).
    #[arg(long, required_unless_present = "print_mapping")]
    mapping: Option<std::path::PathBuf>,
    /// Check everything and report, but change nothing.
    #[arg(long)]
    dry_run: bool,
    /// utf-8 or shift_jis (default: detected).
    #[arg(long)]
    encoding: Option<String>,
    /// Print a starter mapping for the app and exit.
    #[arg(long, conflicts_with_all = ["mapping", "dry_run", "file"])]
    print_mapping: bool,
    /// The exported CSV file.
    #[arg(required_unless_present = "print_mapping")]
    file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EffectsAction {
    /// Freeze a fiscal year's figures (the DX office's year-end close).
    Close {
        /// The fiscal year (April–March), e.g. 2025.
        #[arg(long)]
        fiscal_year: i64,
    },
    /// Open a closed fiscal year again; the reason is recorded.
    Reopen {
        #[arg(long)]
        fiscal_year: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// requester, dx_office, helpdesk, manager or admin.
        #[arg(long)]
        role: String,
        /// Department code.
        #[arg(long)]
        department: String,
        #[arg(long, default_value = "ja")]
        locale: String,
    },
}

/// A command's failure: `Input` is the user's to fix (exit 2), `Failure` is not (exit 1).
enum CliError {
    Input(String),
    Failure(String),
}

fn cli_locale() -> Locale {
    let lang = std::env::var("LANG").unwrap_or_default();
    if lang.starts_with("ja") {
        Locale::Ja
    } else {
        Locale::En
    }
}

fn describe(error: app::Error) -> CliError {
    match error {
        app::Error::Invalid(errors) => {
            let locale = cli_locale();
            let lines: Vec<String> = errors
                .0
                .iter()
                .map(|(field, keys)| {
                    let messages: Vec<String> = keys.iter().map(|k| t(locale, k, &[])).collect();
                    format!("{field}: {}", messages.join(", "))
                })
                .collect();
            CliError::Input(lines.join("\n"))
        }
        app::Error::Conflict(key) => CliError::Input(t(cli_locale(), key, &[])),
        other => CliError::Failure(other.to_string()),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let result = Settings::from_env()
        .map_err(CliError::Input)
        .and_then(|settings| execute(cli.command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Input(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// The one connection of a command that runs and exits (see `prepare_connection`
/// for why it is not a pool).
fn connect(settings: &Settings) -> Result<DbConn, CliError> {
    prepare_connection(settings).map_err(CliError::Failure)
}

fn execute(command: Command, settings: Settings) -> Result<(), CliError> {
    match command {
        Command::Serve { demo } => serve(settings, demo),
        Command::Worker => worker(settings),
        Command::Backup { path } => {
            let mut conn = connect(&settings)?;
            let start = std::time::Instant::now();
            crate::db::backup(&mut conn, &path).map_err(CliError::Input)?;
            println!(
                "backed up to {} in {:.1} s",
                path.display(),
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Reindex => {
            let mut conn = connect(&settings)?;
            let start = std::time::Instant::now();
            let done = crate::db::search::rebuild(&mut conn, 1000)
                .and_then(|_| crate::db::stats::rebuild(&mut conn, &settings.timezone))
                .map_err(|e| CliError::Failure(e.to_string()))?;
            println!(
                "reindexed {done} consultations in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Generate {
            consultations,
            seed,
            append,
            as_of,
            no_search_index,
            inquiries,
        } => generate(
            &settings,
            Options {
                consultations,
                seed,
                append,
                as_of: as_of.unwrap_or_else(|| crate::generate::today(&settings)),
                search_index: !no_search_index,
                inquiries,
            },
        ),
        Command::Effects { action } => effects(&settings, action),
        Command::Import { action } => import(&settings, action),
        Command::Migrate => {
            connect(&settings)?;
            println!("migrations applied");
            Ok(())
        }
        Command::Department {
            action:
                DepartmentAction::Add {
                    code,
                    name,
                    parent,
                    kind,
                    dx_office,
                },
        } => {
            let mut conn = connect(&settings)?;
            let parent_id = match parent {
                Some(code) => Some(department_id(&mut conn, &code)?),
                None => None,
            };
            let input = NewDepartmentInput {
                code: Some(code),
                name: Some(name),
                parent_id,
                kind,
                is_dx_office: dx_office,
            };
            let department = directory::add_department(&mut conn, &input).map_err(describe)?;
            println!(
                "department {} ({}) created with id {}",
                department.code, department.kind, department.id
            );
            Ok(())
        }
        Command::User {
            action:
                UserAction::Add {
                    email,
                    name,
                    role,
                    department,
                    locale,
                },
        } => {
            if crate::domain::Role::parse(&role).is_none() {
                return Err(CliError::Input(format!(
                    "unknown role {role:?}: use requester, dx_office, helpdesk, manager or admin"
                )));
            }
            let mut conn = connect(&settings)?;
            let department_id = department_id(&mut conn, &department)?;
            let password = read_password()?;
            let input = NewUserInput {
                email: Some(email),
                name: Some(name),
                role: Some(role),
                department_id: Some(department_id),
                locale: Some(locale),
                password: Some(password),
            };
            let user = directory::add_user(&mut conn, &input).map_err(describe)?;
            println!(
                "user {} ({}) created with id {}",
                user.email,
                user.role.as_str(),
                user.id
            );
            Ok(())
        }
    }
}

fn generate(settings: &Settings, options: Options) -> Result<(), CliError> {
    let mut conn = connect(settings)?;
    let summary =
        crate::generate::generate(&mut conn, settings, &options).map_err(|e| match e {
            GenerateError::Refused(m) => CliError::Input(m),
            GenerateError::Failed(m) => CliError::Failure(m),
        })?;
    print!("{}", summary.report());
    Ok(())
}

fn import_kintone(settings: &Settings, args: KintoneImport) -> Result<(), CliError> {
    use crate::app::kintone::{self, read::Encoding, ImportError, KintoneApp, Request};
    let KintoneImport {
        app,
        mapping,
        dry_run,
        encoding,
        print_mapping,
        file,
    } = args;
    let app = KintoneApp::parse(&app).ok_or_else(|| {
        CliError::Input(format!(
            "unknown app {app:?}: use digicon, helpdesk or ledger"
        ))
    })?;
    if print_mapping {
        print!("{}", kintone::starter_mapping(app));
        return Ok(());
    }
    let encoding = match encoding {
        None => None,
        Some(name) => Some(Encoding::parse(&name).ok_or_else(|| {
            CliError::Input(format!("unknown encoding {name:?}: use utf-8 or shift_jis"))
        })?),
    };
    let read =
        |path: Option<std::path::PathBuf>| -> Result<(std::path::PathBuf, Vec<u8>), CliError> {
            let path = path.ok_or_else(|| CliError::Input("a file is required".into()))?;
            let bytes = std::fs::read(&path)
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))?;
            Ok((path, bytes))
        };
    let (mapping_path, mapping) = read(mapping)?;
    let mapping = String::from_utf8(mapping)
        .map_err(|_| CliError::Input(format!("{} is not UTF-8", mapping_path.display())))?;
    let (path, bytes) = read(file)?;
    let mut conn = connect(settings)?;
    let start = std::time::Instant::now();
    let request = Request {
        app,
        mapping: &mapping,
        file: &bytes,
        encoding,
        dry_run,
    };
    match kintone::import(&mut conn, settings.timezone, &request) {
        Ok(o) => {
            let separator = match o.separator {
                b'\t' => "tab",
                b';' => "semicolon",
                _ => "comma",
            };
            println!(
                "{}: {} records in {} rows ({}, {separator}-separated)",
                path.display(),
                o.records,
                o.rows,
                o.encoding.as_str()
            );
            let verb = if o.dry_run {
                "would import"
            } else {
                "imported"
            };
            println!(
                "{verb} {} records with {} timeline events and {} comments; {} imported before, left as they are",
                o.imported, o.events, o.comments, o.skipped
            );
            if o.dry_run {
                println!("dry run: nothing changed");
            }
            println!("in {:.2} s", start.elapsed().as_secs_f64());
            Ok(())
        }
        Err(ImportError::Problems(problems)) => {
            for problem in &problems {
                println!("{problem}");
            }
            Err(CliError::Input(format!(
                "{} problems in {}; nothing imported",
                problems.len(),
                path.display()
            )))
        }
        Err(ImportError::Db(e)) => Err(CliError::Failure(format!("database: {e}"))),
    }
}

fn effects(settings: &Settings, action: EffectsAction) -> Result<(), CliError> {
    let mut conn = connect(settings)?;
    match action {
        EffectsAction::Close { fiscal_year } => {
            let app = App::new(settings).map_err(CliError::Failure)?;
            let figures =
                app::effects::close(&app, &mut conn, None, Some(fiscal_year)).map_err(describe)?;
            println!(
                "fiscal year {fiscal_year} closed: {} hours saved, in-house {} of {} systems in operation ({}%), effect amount {} yen",
                figures.hours_saved,
                figures.in_house,
                figures.in_operation,
                figures.in_house_rate,
                figures.effect_amount
            );
        }
        EffectsAction::Reopen {
            fiscal_year,
            reason,
        } => {
            app::effects::reopen(&mut conn, None, Some(fiscal_year), Some(&reason))
                .map_err(describe)?;
            println!("fiscal year {fiscal_year} reopened");
        }
    }
    Ok(())
}

fn import(settings: &Settings, action: ImportAction) -> Result<(), CliError> {
    match action {
        ImportAction::Kintone(args) => import_kintone(settings, args),
        ImportAction::Departments { file, dry_run } => {
            import_people(settings, Importing::Departments, file, dry_run)
        }
        ImportAction::Users { file, dry_run } => {
            import_people(settings, Importing::Users, file, dry_run)
        }
    }
}

fn import_people(
    settings: &Settings,
    what: Importing,
    file: std::path::PathBuf,
    dry_run: bool,
) -> Result<(), CliError> {
    let bytes = std::fs::read(&file)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", file.display())))?;
    let mut conn = connect(settings)?;
    let app = App::new(settings).map_err(CliError::Failure)?;
    let report = reorg::import_trusted(&app, &mut conn, what, &bytes, dry_run).map_err(describe)?;
    let locale = cli_locale();
    for change in &report.changes {
        let fields: Vec<String> = change
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "line {}: {} {} {}",
            change.line,
            change.action,
            change.target,
            fields.join(" ")
        );
    }
    if !report.problems.is_empty() {
        let lines: Vec<String> = report
            .problems
            .iter()
            .map(|p| {
                format!(
                    "line {}, {}: {}",
                    p.line,
                    p.field,
                    t(locale, &p.message, &[])
                )
            })
            .collect();
        return Err(CliError::Input(format!(
            "{} problem(s) in {}; nothing changed\n{}",
            report.problems.len(),
            file.display(),
            lines.join("\n")
        )));
    }
    let verb = if report.applied {
        "applied"
    } else {
        "dry run: would apply"
    };
    println!(
        "{verb} {} change(s) to {}; {} row(s) already so",
        report.changes.len(),
        report.kind,
        report.unchanged
    );
    Ok(())
}

fn department_id(conn: &mut DbConn, code: &str) -> Result<i64, CliError> {
    directory::department_id_by_code(conn, code)
        .map_err(|e| CliError::Failure(e.to_string()))?
        .ok_or_else(|| CliError::Input(format!("unknown department code {code:?}")))
}

fn read_password() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failure(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(CliError::Input("no password on standard input".into()));
    }
    Ok(password)
}

fn serve(settings: Settings, demo: bool) -> Result<(), CliError> {
    log::info!("starting with {settings:?}");
    let pool = prepare_database(&settings).map_err(CliError::Failure)?;
    if demo {
        let mut conn = pool.get().map_err(|e| CliError::Failure(e.to_string()))?;
        let app = App::new(&settings).map_err(CliError::Failure)?;
        match crate::demo::load_if_empty(&mut conn, &app) {
            Ok(true) => log::info!("demo data loaded"),
            Ok(false) => log::info!("database not empty: demo data not loaded"),
            Err(e) => return Err(CliError::Failure(format!("demo data: {e}"))),
        }
        crate::demo::print_logins(&settings);
    }
    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| CliError::Failure(format!("cannot listen on {}: {e}", settings.bind)))?;
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind.clone();
        let app = Application::with_pool(listener, pool, settings).map_err(CliError::Failure)?;
        log::info!("listening on http://{bind}");
        app.run_until_stopped()
            .await
            .map_err(|e| CliError::Failure(e.to_string()))
    })
}

fn worker(settings: Settings) -> Result<(), CliError> {
    let pool = prepare_database(&settings).map_err(CliError::Failure)?;
    let app = Arc::new(App::new(&settings).map_err(CliError::Failure)?);
    let running = RunningWorker::start(pool, &settings, app).map_err(CliError::Failure)?;
    log::info!("worker running; stop it with Ctrl-C or SIGTERM");
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc_channel(tx)?;
    let _ = rx.recv();
    log::info!("stopping the worker after the message in flight");
    running.stop();
    Ok(())
}

/// Sends on `tx` at SIGINT or SIGTERM, using actix's signal handling.
fn ctrlc_channel(tx: std::sync::mpsc::Sender<()>) -> Result<(), CliError> {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let on_term = tx.clone();
                actix_web::rt::spawn(async move {
                    if let Ok(mut term) = signal(SignalKind::terminate()) {
                        term.recv().await;
                        let _ = on_term.send(());
                    }
                });
                if let Ok(mut interrupt) = signal(SignalKind::interrupt()) {
                    interrupt.recv().await;
                    let _ = tx.send(());
                }
            })
        })
        .map(|_| ())
        .map_err(|e| CliError::Failure(e.to_string()))
}
