//! `digicon import kintone`: a city's history from the CSV exports of its kintone
//! apps (the Digicon app, the helpdesk app, the system ledger), through a mapping
//! file from kintone field names to ours.
//!
//! Every record is checked before anything is written, and every problem is
//! reported with its line and field; one problem and nothing is imported (the
//! whole import is one transaction). A record imported before (by its app and
//! kintone record number) is skipped, so running the same file again changes
//! nothing. Imported records keep their numbers, dates, states and assignees,
//! get the timeline events their state implies (marked `imported` in the payload),
//! are counted in the dashboards' rollups of their fiscal years and indexed for
//! search.

mod digicon;
mod helpdesk;
mod ledger;
pub mod mapping;
pub mod read;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::Connection;
use serde_json::{json, Value};

use crate::db::{self, DbConn};
use crate::domain::kintone::{name_key, parse_date, parse_datetime, values, Problem};
use mapping::Mapping;
use read::{Encoding, Record, Sheet};

/// Which kintone app an export comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KintoneApp {
    Digicon,
    Helpdesk,
    Ledger,
}

impl KintoneApp {
    pub fn parse(name: &str) -> Option<KintoneApp> {
        match name {
            "digicon" => Some(KintoneApp::Digicon),
            "helpdesk" => Some(KintoneApp::Helpdesk),
            "ledger" => Some(KintoneApp::Ledger),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KintoneApp::Digicon => crate::db::imports::DIGICON_APP,
            KintoneApp::Helpdesk => crate::db::imports::HELPDESK_APP,
            KintoneApp::Ledger => "ledger",
        }
    }

    /// Our fields a mapping may name for this app, and whether it must.
    pub fn columns(self) -> &'static [(&'static str, bool)] {
        match self {
            KintoneApp::Digicon => digicon::COLUMNS,
            KintoneApp::Helpdesk => helpdesk::COLUMNS,
            KintoneApp::Ledger => ledger::COLUMNS,
        }
    }
}

/// The starter mapping `--print-mapping` writes.
pub fn starter_mapping(app: KintoneApp) -> &'static str {
    mapping::starter(app)
}

/// One import as asked for.
pub struct Request<'a> {
    pub app: KintoneApp,
    pub mapping: &'a str,
    pub file: &'a [u8],
    pub encoding: Option<Encoding>,
    pub dry_run: bool,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub encoding: Encoding,
    pub separator: u8,
    /// Records in the file and the rows they took.
    pub records: usize,
    pub rows: usize,
    pub imported: usize,
    /// Records imported by an earlier run, left as they are.
    pub skipped: usize,
    pub events: usize,
    pub comments: usize,
    pub dry_run: bool,
}

#[derive(Debug)]
pub enum ImportError {
    /// The file or the mapping: nothing was imported.
    Problems(Vec<Problem>),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Db(e)
    }
}

/// What a planned import adds up to.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    imported: usize,
    skipped: usize,
    events: usize,
    comments: usize,
}

/// Imports an export, or with `dry_run` only checks it. On any problem nothing
/// is imported and every problem is returned.
pub fn import(conn: &mut DbConn, zone: Tz, request: &Request) -> Result<Outcome, ImportError> {
    let mapping = Mapping::parse(request.mapping, request.app).map_err(ImportError::Problems)?;
    let sheet = read::read(request.file, request.encoding).map_err(ImportError::Problems)?;
    let run = |conn: &mut DbConn| -> Result<Counts, ImportError> {
        let mut ctx = Ctx::new(conn, &sheet, &mapping, request.app, zone)?;
        if !ctx.problems.is_empty() {
            return Err(ImportError::Problems(ctx.problems));
        }
        match request.app {
            KintoneApp::Digicon => digicon::run(conn, &mut ctx, request.dry_run),
            KintoneApp::Helpdesk => helpdesk::run(conn, &mut ctx, request.dry_run),
            KintoneApp::Ledger => ledger::run(conn, &mut ctx, request.dry_run),
        }
    };
    let counts = if request.dry_run {
        run(conn)?
    } else {
        conn.transaction(|conn| {
            db::imports::lock(conn)?;
            run(conn)
        })?
    };
    Ok(Outcome {
        encoding: sheet.encoding,
        separator: sheet.separator,
        records: sheet.records.len(),
        rows: sheet.rows,
        imported: counts.imported,
        skipped: counts.skipped,
        events: counts.events,
        comments: counts.comments,
        dry_run: request.dry_run,
    })
}

/// A cell of a record: its text, the line of its row and the kintone field.
#[derive(Debug, Clone, Copy)]
struct Cell<'a> {
    value: &'a str,
    line: u64,
    field: &'a str,
}

/// The users and departments kintone's values are looked up in.
struct Directory {
    users: Vec<db::imports::DirectoryUser>,
    by_email: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
    department_by_code: HashMap<String, i64>,
    department_by_name: HashMap<String, Vec<i64>>,
    /// The division every department rolls up to.
    division_of: HashMap<i64, i64>,
}

impl Directory {
    fn load(conn: &mut DbConn) -> diesel::QueryResult<Directory> {
        let users = db::imports::users(conn)?;
        let mut by_email = HashMap::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            by_email.insert(u.email.to_lowercase(), i);
            by_name.entry(name_key(&u.name)).or_default().push(i);
        }
        let mut department_by_code = HashMap::new();
        let mut department_by_name: HashMap<String, Vec<i64>> = HashMap::new();
        for (id, code, name) in db::imports::departments(conn)? {
            department_by_code.insert(code, id);
            department_by_name
                .entry(name_key(&name))
                .or_default()
                .push(id);
        }
        Ok(Directory {
            users,
            by_email,
            by_name,
            department_by_code,
            department_by_name,
            division_of: db::stats::divisions(conn)?,
        })
    }

    fn division(&self, department_id: i64) -> i64 {
        self.division_of
            .get(&department_id)
            .copied()
            .unwrap_or(department_id)
    }
}

/// What an import reads its records through: the sheet, the mapped columns, the
/// directory, and the problems found so far.
struct Ctx<'a> {
    app: KintoneApp,
    sheet: &'a Sheet,
    mapping: &'a Mapping,
    /// Our field → the indexes of its kintone columns, in the mapping's order.
    columns: HashMap<&'static str, Vec<usize>>,
    zone: Tz,
    now: NaiveDateTime,
    directory: Directory,
    problems: Vec<Problem>,
}

impl<'a> Ctx<'a> {
    fn new(
        conn: &mut DbConn,
        sheet: &'a Sheet,
        mapping: &'a Mapping,
        app: KintoneApp,
        zone: Tz,
    ) -> diesel::QueryResult<Ctx<'a>> {
        let mut problems = Vec::new();
        let mut columns = HashMap::new();
        let find = |name: &str, problems: &mut Vec<Problem>| {
            let found = sheet.column(name);
            if found.is_none() {
                problems.push(Problem::at(
                    1,
                    name,
                    "the mapping names this field, but the file has no such column",
                ));
            }
            found
        };
        for (key, _) in app.columns() {
            if let Some(names) = mapping.columns.get(*key) {
                let found: Vec<usize> = names
                    .names()
                    .into_iter()
                    .filter_map(|n| find(n, &mut problems))
                    .collect();
                columns.insert(*key, found);
            }
        }
        if let Some(history) = &mapping.history {
            for (key, name) in [
                ("history.at", &history.at),
                ("history.author", &history.author),
                ("history.text", &history.text),
            ] {
                if let Some(i) = find(name, &mut problems) {
                    columns.insert(key, vec![i]);
                }
            }
        }
        Ok(Ctx {
            app,
            sheet,
            mapping,
            columns,
            zone,
            now: db::now(),
            directory: Directory::load(conn)?,
            problems,
        })
    }

    fn problem(&mut self, line: u64, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::at(line, field, message));
    }

    /// The first non-empty cell of a field in a row of the record (the first row
    /// unless `row` says otherwise).
    fn cell_in(&self, record: &'a Record, row: usize, key: &str) -> Option<Cell<'a>> {
        let row = record.rows.get(row)?;
        self.columns.get(key)?.iter().find_map(|&i| {
            let value = row.cells.get(i).map(|c| c.trim()).unwrap_or_default();
            (!value.is_empty()).then(|| Cell {
                value,
                line: row.line,
                field: self.sheet.headers[i].as_str(),
            })
        })
    }

    fn cell(&self, record: &'a Record, key: &str) -> Option<Cell<'a>> {
        self.cell_in(record, 0, key)
    }

    /// The kintone name of a field, for a problem about its emptiness.
    fn field_name(&self, key: &str) -> &'a str {
        let sheet = self.sheet;
        self.columns
            .get(key)
            .and_then(|c| c.first())
            .map_or("", |&i| sheet.headers[i].as_str())
    }

    /// A cell that must not be empty.
    fn required(&mut self, record: &'a Record, key: &str) -> Option<Cell<'a>> {
        let cell = self.cell(record, key);
        if cell.is_none() {
            let field = self.field_name(key);
            self.problem(record.line(), field, "empty, but required");
        }
        cell
    }

    /// A text of at most `max` characters.
    fn text(&mut self, cell: Option<Cell<'a>>, max: usize) -> Option<String> {
        let cell = cell?;
        if cell.value.chars().count() > max {
            self.problem(
                cell.line,
                cell.field,
                format!("longer than {max} characters"),
            );
            return None;
        }
        Some(cell.value.to_string())
    }

    fn datetime(&mut self, cell: Option<Cell<'a>>) -> Option<NaiveDateTime> {
        let cell = cell?;
        match parse_datetime(cell.value, &self.zone) {
            Some(at) => Some(at),
            None => {
                self.problem(
                    cell.line,
                    cell.field,
                    format!(
                        "{:?} is not a date and time (2023-04-05 09:30, 2023/4/5 9:30)",
                        cell.value
                    ),
                );
                None
            }
        }
    }

    fn date(&mut self, cell: Option<Cell<'a>>) -> Option<NaiveDate> {
        let cell = cell?;
        let date = parse_date(cell.value);
        if date.is_none() {
            self.problem(
                cell.line,
                cell.field,
                format!("{:?} is not a date (2023-04-05, 2023/4/5)", cell.value),
            );
        }
        date
    }

    /// One of our values: through the mapping's table `table` (named in messages),
    /// or the wire value itself; `default` (a wire value) when the cell is empty.
    fn value<T>(
        &mut self,
        cell: Option<Cell<'a>>,
        map: &std::collections::BTreeMap<String, String>,
        table: &str,
        parse: fn(&str) -> Option<T>,
        default: Option<&str>,
    ) -> Option<T> {
        let Some(cell) = cell else {
            return default.and_then(parse);
        };
        let wire = map.get(cell.value).map_or(cell.value, String::as_str);
        let parsed = parse(wire);
        if parsed.is_none() {
            self.problem(
                cell.line,
                cell.field,
                format!(
                    "unknown value {:?} (add it under [{table}] in the mapping)",
                    cell.value
                ),
            );
        }
        parsed
    }

    /// The user a kintone user value names: through `[users]`, else by e-mail,
    /// else by name (spaces ignored).
    fn find_user(&self, value: &str) -> Result<usize, String> {
        let d = &self.directory;
        if let Some(email) = self.mapping.users.get(value) {
            return d
                .by_email
                .get(&email.to_lowercase())
                .copied()
                .ok_or_else(|| format!("[users] maps {value:?} to {email:?}, which is no user"));
        }
        if let Some(&i) = d.by_email.get(&value.to_lowercase()) {
            return Ok(i);
        }
        match d.by_name.get(&name_key(value)).map(Vec::as_slice) {
            Some([i]) => Ok(*i),
            Some([_, _, ..]) => Err(format!(
                "several users are named {value:?} (say which under [users] in the mapping)"
            )),
            _ => Err(format!(
                "unknown user {value:?} (add it under [users] in the mapping)"
            )),
        }
    }

    /// The user of a cell (its first value).
    fn user(&mut self, cell: Option<Cell<'a>>) -> Option<&db::imports::DirectoryUser> {
        let cell = cell?;
        let value = values(cell.value).next().unwrap_or_default();
        match self.find_user(value) {
            Ok(i) => Some(&self.directory.users[i]),
            Err(message) => {
                self.problem(cell.line, cell.field, message);
                None
            }
        }
    }

    /// The first helpdesk, DX office or admin user among a field's columns and
    /// values (kintone's 作業者 may be the requester, whose turn it is); the
    /// mapping's default assignee when there is none.
    fn staff(&mut self, record: &'a Record, key: &str) -> Option<i64> {
        let columns = self.columns.get(key).cloned().unwrap_or_default();
        let row = record.rows.first()?;
        for i in columns {
            let cell = row.cells.get(i).map(String::as_str).unwrap_or_default();
            for value in values(cell) {
                match self.find_user(value) {
                    Ok(u) if self.directory.users[u].role.is_staff() => {
                        return Some(self.directory.users[u].id)
                    }
                    Ok(_) => {}
                    Err(message) => {
                        let field = self.sheet.headers[i].clone();
                        self.problem(row.line, &field, message);
                        return None;
                    }
                }
            }
        }
        let email = self.mapping.defaults.assignee.clone()?;
        match self.directory.by_email.get(&email.to_lowercase()) {
            Some(&u) => Some(self.directory.users[u].id),
            None => {
                self.problems.push(Problem::general(format!(
                    "mapping: [defaults] assignee {email:?} is no user"
                )));
                None
            }
        }
    }

    /// The department of a cell: through `[departments]`, else by code, else by
    /// name (spaces ignored).
    fn department(&mut self, cell: Option<Cell<'a>>) -> Option<i64> {
        let cell = cell?;
        let d = &self.directory;
        let found = match self.mapping.departments.get(cell.value) {
            Some(code) => d.department_by_code.get(code).copied().ok_or_else(|| {
                format!(
                    "[departments] maps {:?} to {code:?}, which is no department",
                    cell.value
                )
            }),
            None => match d.department_by_code.get(cell.value) {
                Some(&id) => Ok(id),
                None => match d
                    .department_by_name
                    .get(&name_key(cell.value))
                    .map(Vec::as_slice)
                {
                    Some([id]) => Ok(*id),
                    Some([_, _, ..]) => Err(format!(
                        "several departments are named {:?} (say which under [departments])",
                        cell.value
                    )),
                    _ => Err(format!(
                        "unknown department {:?} (add it under [departments] in the mapping)",
                        cell.value
                    )),
                },
            },
        };
        match found {
            Ok(id) => Some(id),
            Err(message) => {
                self.problem(cell.line, cell.field, message);
                None
            }
        }
    }

    /// The record number, once per file: a second record with the same number is
    /// a problem.
    fn record_number(
        &mut self,
        record: &'a Record,
        seen: &mut HashMap<&'a str, u64>,
    ) -> Option<&'a str> {
        let cell = self.required(record, "record_number")?;
        if let Some(first) = seen.insert(cell.value, cell.line) {
            self.problem(
                cell.line,
                cell.field,
                format!(
                    "record {} appears twice (first at line {first})",
                    cell.value
                ),
            );
            return None;
        }
        Some(cell.value)
    }

    /// The rows of the history table as (time, author, text): every row with any
    /// of them filled in must have all three.
    fn history(&mut self, record: &'a Record) -> Vec<(NaiveDateTime, i64, String)> {
        let Some(history) = self.mapping.history.as_ref() else {
            return vec![];
        };
        let mut notes = vec![];
        for row in 0..record.rows.len() {
            let at = self.cell_in(record, row, "history.at");
            let author = self.cell_in(record, row, "history.author");
            let text = self.cell_in(record, row, "history.text");
            let Some(text) = text else {
                if let Some(cell) = at.or(author) {
                    self.problem(
                        cell.line,
                        &history.text,
                        "empty, but the row has a time or author",
                    );
                }
                continue;
            };
            let line = text.line;
            let at = match at {
                Some(at) => self.datetime(Some(at)),
                None => {
                    self.problem(line, &history.at, "empty, but the row has a text");
                    None
                }
            };
            let author = match author {
                Some(author) => self.user(Some(author)).map(|u| u.id),
                None => {
                    self.problem(line, &history.author, "empty, but the row has a text");
                    None
                }
            };
            let body = self.text(Some(text), crate::domain::consultation::TEXT_MAX_CHARS);
            if let (Some(at), Some(author), Some(body)) = (at, author, body) {
                notes.push((at, author, body));
            }
        }
        notes
    }

    /// The mark every imported timeline event carries.
    fn imported(&self, record_number: &str) -> Value {
        json!({"from": "kintone", "app": self.app.as_str(), "record": record_number})
    }

    /// A time must not lie in the future.
    fn not_future(
        &mut self,
        at: Option<NaiveDateTime>,
        record: &'a Record,
        key: &str,
    ) -> Option<NaiveDateTime> {
        let at = at?;
        if at > self.now {
            let cell = self.cell(record, key);
            let (line, field) = cell.map_or((record.line(), ""), |c| (c.line, c.field));
            self.problem(line, field, "lies in the future");
            return None;
        }
        Some(at)
    }
}

/// `payload` with the import mark added.
fn marked(mut payload: Value, mark: &Value) -> String {
    if let Value::Object(map) = &mut payload {
        map.insert("imported".into(), mark.clone());
    }
    payload.to_string()
}

/// Numbers must be unique in the file and new to digicon: `numbers` holds each
/// planned record's number with the line and field it came from.
fn check_numbers(
    conn: &mut DbConn,
    ctx: &mut Ctx,
    numbers: Vec<(&str, u64, &str)>,
    inquiry: bool,
) -> diesel::QueryResult<()> {
    let mut first: HashMap<&str, u64> = HashMap::new();
    for (number, line, field) in &numbers {
        if let Some(first) = first.insert(number, *line) {
            ctx.problem(
                *line,
                field,
                format!("number {number} appears twice (first at line {first})"),
            );
        }
    }
    let all: Vec<String> = first.keys().map(|n| n.to_string()).collect();
    let taken = db::imports::numbers_taken(conn, &all, inquiry)?;
    for (number, line, field) in numbers.iter().filter(|(n, _, _)| taken.contains(*n)) {
        ctx.problem(
            *line,
            field,
            format!("number {number} is already in digicon"),
        );
    }
    Ok(())
}
