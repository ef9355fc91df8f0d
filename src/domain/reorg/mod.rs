//! The April reorganisation as two CSV files (departments, then users): reading
//! them, and planning what each row changes against a snapshot of the directory.
//! Planning is pure: it walks the rows in file order over an in-memory copy of
//! the tree, so a row sees what the rows above it did (a merge can follow the
//! create of its survivor), and it reports every problem with its line and field
//! instead of stopping at the first. The use case (`app::reorg`) applies the plan
//! in one transaction only when there are no problems.

pub mod departments;
pub mod users;

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

/// One thing wrong with a file: where, and a catalog key saying what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// 1-based line of the file (the header is line 1); 0 for the whole file.
    pub line: usize,
    /// The column, or `file`.
    pub field: String,
    /// A message catalog key (`import.*`, `validation.*`).
    pub message: String,
}

impl Problem {
    pub fn new(line: usize, field: &str, message: &str) -> Problem {
        Problem {
            line,
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

/// The text of an uploaded file: UTF-8 (with or without a BOM) or, failing that,
/// Shift_JIS, which Excel in Japan writes by default.
pub fn decode(bytes: &[u8]) -> Result<String, Problem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    if had_errors {
        Err(Problem::new(0, "file", "import.encoding"))
    } else {
        Ok(text.into_owned())
    }
}

/// A data row: its line and its cells by column name (blank cells absent).
#[derive(Debug, Clone)]
pub struct Row {
    pub line: usize,
    cells: HashMap<String, String>,
}

impl Row {
    /// A trimmed, non-empty cell.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.cells.get(column).map(String::as_str)
    }
}

/// The rows of a CSV text whose header holds exactly the known columns (any
/// order, any case); `required` must be among them.
pub fn rows(text: &str, known: &[&str], required: &[&str]) -> Result<Vec<Row>, Vec<Problem>> {
    // The reader numbers a record after CRLF from the line before it; Excel and
    // a browser's form both end lines so.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(_)) => return Err(vec![Problem::new(1, "file", "import.malformed")]),
        None => return Err(vec![Problem::new(0, "file", "import.empty")]),
    };
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_lowercase()).collect();
    let mut problems = vec![];
    for column in &columns {
        // Excel adds blank columns after a cell once typed in: they are ignored.
        if !column.is_empty() && !known.contains(&column.as_str()) {
            problems.push(Problem::new(1, column, "import.unknown_column"));
        }
    }
    for column in required {
        if !columns.iter().any(|c| c == column) {
            problems.push(Problem::new(1, column, "import.missing_column"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = vec![];
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                problems.push(Problem::new(line, "file", "import.malformed"));
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() > columns.len() {
            problems.push(Problem::new(line, "file", "import.too_many_cells"));
            continue;
        }
        let cells = columns
            .iter()
            .zip(record.iter())
            .filter(|(c, v)| !c.is_empty() && !v.trim().is_empty())
            .map(|(c, v)| (c.clone(), v.trim().to_string()))
            .collect();
        rows.push(Row { line, cells });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Checks a cell as `FieldErrors::required_text` would, as a problem of the row.
fn text(
    problems: &mut Vec<Problem>,
    row: &Row,
    column: &str,
    required: bool,
    max_chars: usize,
) -> Option<String> {
    match row.get(column) {
        None if required => {
            problems.push(Problem::new(row.line, column, "validation.required"));
            None
        }
        None => None,
        Some(v) if super::validation::has_control_characters(v) => {
            problems.push(Problem::new(
                row.line,
                column,
                "validation.control_characters",
            ));
            None
        }
        Some(v) if v.chars().count() > max_chars => {
            problems.push(Problem::new(row.line, column, "validation.too_long"));
            None
        }
        Some(v) => Some(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_or_without_bom_and_shift_jis_read_the_same() {
        let text = "action,code\ncreate,市民課\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        assert_eq!(decode(text.as_bytes()).expect("utf-8"), text);
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode(&bom).expect("bom"), text);
        assert_eq!(decode(&sjis).expect("shift_jis"), text);
        assert!(decode(b"\xff\xff\xff").is_err());
    }

    #[test]
    fn a_header_names_known_columns_and_rows_keep_their_lines() {
        let rows = rows(
            "Action, Code ,name,\r\ncreate,A,\"two\nlines\",\r\n\r\n,,\r\nmove,B,x,stray\r\n",
            &["action", "code", "name"],
            &["action", "code"],
        )
        .expect("rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].get("name"), Some("two\nlines"));
        assert_eq!(rows[1].line, 6);
        let problems = super::rows("action,colour\n", &["action", "code"], &["action", "code"])
            .expect_err("bad header");
        assert_eq!(
            problems,
            vec![
                Problem::new(1, "colour", "import.unknown_column"),
                Problem::new(1, "code", "import.missing_column"),
            ]
        );
    }
}
