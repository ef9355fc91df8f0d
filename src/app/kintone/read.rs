//! Reading a kintone CSV export: the encoding (UTF-8 with or without BOM, or
//! Shift_JIS), the separator, quoted values over several lines, and the rows of
//! one record (kintone writes a table field's rows under the record, marking the
//! record's first row with `*` in the `レコードの開始行` column).

use crate::domain::kintone::Problem;

/// The column kintone adds to an export with table fields.
pub const RECORD_START: &str = "レコードの開始行";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    ShiftJis,
}

impl Encoding {
    /// `utf-8` or `shift_jis` (as `--encoding` names them).
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "utf_8" | "utf8" => Some(Encoding::Utf8),
            "shift_jis" | "sjis" | "cp932" | "windows_31j" => Some(Encoding::ShiftJis),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::ShiftJis => "Shift_JIS",
        }
    }
}

/// The file as text: a BOM means UTF-8; valid UTF-8 is UTF-8; anything else is
/// Shift_JIS (kintone's other export encoding), unless `forced`. Bytes the
/// encoding cannot read are a problem at their line.
pub fn decode(bytes: &[u8], forced: Option<Encoding>) -> Result<(String, Encoding), Problem> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let encoding = match forced {
        Some(Encoding::Utf8 | Encoding::Utf8Bom) if bytes.starts_with(BOM) => Encoding::Utf8Bom,
        Some(forced) => forced,
        None if bytes.starts_with(BOM) => Encoding::Utf8Bom,
        None if std::str::from_utf8(bytes).is_ok() => Encoding::Utf8,
        None => Encoding::ShiftJis,
    };
    let (text, bad) = match encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => {
            let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
            let (text, bad) = encoding_rs::UTF_8.decode_without_bom_handling(body);
            (text.into_owned(), bad)
        }
        Encoding::ShiftJis => {
            let (text, bad) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
            (text.into_owned(), bad)
        }
    };
    if bad {
        let before = text.split('\u{FFFD}').next().unwrap_or_default();
        let line = before.matches('\n').count() as u64 + 1;
        return Err(Problem {
            line: Some(line),
            field: None,
            message: format!("bytes that are not {}", encoding.as_str()),
        });
    }
    Ok((text, encoding))
}

/// The separator of the header line: whichever of comma, tab and semicolon occurs
/// most often outside quotes (comma when none does).
pub fn separator(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b'\t', 0), (b';', 0)];
    let mut quoted = false;
    for c in text.bytes() {
        match c {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(entry) = counts.iter_mut().find(|(s, _)| *s == c) {
                    entry.1 += 1;
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .max_by_key(|(s, n)| (*n, *s == b','))
        .map_or(b',', |(s, _)| *s)
}

/// One row of the file and the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

/// One kintone record: its first row, then its table rows (the first row holds
/// the first table row too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub rows: Vec<Row>,
}

impl Record {
    pub fn line(&self) -> u64 {
        self.rows.first().map_or(0, |r| r.line)
    }
}

/// A decoded, split and grouped export.
#[derive(Debug)]
pub struct Sheet {
    pub encoding: Encoding,
    pub separator: u8,
    pub headers: Vec<String>,
    pub records: Vec<Record>,
    pub rows: usize,
}

impl Sheet {
    /// The index of a column by its kintone field name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

/// Reads an export. A row that is not valid CSV, or a table row before any
/// record, is a problem at its line.
pub fn read(bytes: &[u8], forced: Option<Encoding>) -> Result<Sheet, Vec<Problem>> {
    let (text, encoding) = decode(bytes, forced).map_err(|p| vec![p])?;
    // kintone ends rows with CRLF; the CSV reader would not count the LF of
    // a CRLF as a line, and the lines reported must be the file's.
    let text = text.replace("\r\n", "\n");
    let separator = separator(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => return Err(vec![csv_problem(&e, 1)]),
    };
    let start = headers.iter().position(|h| h == RECORD_START);
    let mut records: Vec<Record> = Vec::new();
    let mut problems = Vec::new();
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(csv_problem(&e, line));
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows += 1;
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        let starts = match start {
            Some(i) => cells.get(i).is_some_and(|c| c.trim() == "*"),
            None => true,
        };
        let row = Row { line, cells };
        match records.last_mut() {
            Some(last) if !starts => last.rows.push(row),
            None if !starts => problems.push(Problem::at(
                line,
                RECORD_START,
                "a table row before the first record (its first row has no \"*\")",
            )),
            _ => records.push(Record { rows: vec![row] }),
        }
    }
    if problems.is_empty() {
        Ok(Sheet {
            encoding,
            separator,
            headers,
            records,
            rows,
        })
    } else {
        Err(problems)
    }
}

fn csv_problem(e: &csv::Error, line: u64) -> Problem {
    let line = e.position().map_or(line, |p| p.line());
    Problem {
        line: Some(line),
        field: None,
        message: format!("not readable as CSV: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = "\"レコードの開始行\",\"レコード番号\",\"件名\",\"対応内容\"\n\
        \"*\",\"1\",\"紙の申請\",\"電話で確認\"\n\
        \"\",\"1\",\"紙の申請\",\"訪問して\n説明した\"\n\
        \"*\",\"2\",\"\"\"RPA\"\"の相談\",\"\"\n";

    #[test]
    fn the_encoding_is_told_by_the_bom_then_by_being_utf8_else_shift_jis() {
        let bom = [b"\xEF\xBB\xBF".as_slice(), "件名\n".as_bytes()].concat();
        assert_eq!(
            decode(&bom, None),
            Ok(("件名\n".to_string(), Encoding::Utf8Bom))
        );
        assert_eq!(
            decode("件名\n".as_bytes(), None),
            Ok(("件名\n".to_string(), Encoding::Utf8))
        );
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("件名,相談内容\n");
        assert_eq!(
            decode(&sjis, None),
            Ok(("件名,相談内容\n".to_string(), Encoding::ShiftJis))
        );
        assert_eq!(
            decode(b"a,b\n", Some(Encoding::ShiftJis))
                .map(|(_, e)| e)
                .ok(),
            Some(Encoding::ShiftJis),
            "--encoding wins over detection"
        );
        let broken = [b"a\nb\n".as_slice(), &[0x82]].concat();
        assert_eq!(
            decode(&broken, Some(Encoding::Utf8)).map_err(|p| p.line),
            Err(Some(3))
        );
    }

    #[test]
    fn the_separator_is_read_from_the_header_line() {
        assert_eq!(separator("a,b,c\n1\t2\t3\t4\t5"), b',');
        assert_eq!(separator("\"a,b\"\tc\td\n"), b'\t');
        assert_eq!(separator("a;b;c\n"), b';');
        assert_eq!(separator("single\n"), b',');
    }

    #[test]
    fn table_rows_stay_with_their_record_and_lines_count_breaks_inside_values() {
        let sheet = read(EXPORT.as_bytes(), None).expect("reads");
        assert_eq!(sheet.records.len(), 2);
        assert_eq!(sheet.rows, 3);
        let first = &sheet.records[0];
        assert_eq!(first.rows.len(), 2);
        assert_eq!(first.rows[1].cells[3], "訪問して\n説明した");
        assert_eq!(
            first.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(
            sheet.records[1].line(),
            5,
            "the value over two lines counts"
        );
        assert_eq!(sheet.records[1].rows[0].cells[2], "\"RPA\"の相談");
        assert_eq!(sheet.column("件名"), Some(2));
    }

    #[test]
    fn without_the_start_column_every_row_is_a_record() {
        let sheet = read("a\tb\r\n1\t2\r\n3\t4\r\n".as_bytes(), None).expect("reads");
        assert_eq!(sheet.separator, b'\t');
        assert_eq!(sheet.records.len(), 2);
        assert_eq!(sheet.records[1].line(), 3);
    }

    #[test]
    fn a_table_row_before_any_record_is_a_problem_at_its_line() {
        let text = "レコードの開始行,レコード番号\n,1\n*,2\n";
        let problems = read(text.as_bytes(), None).expect_err("refused");
        assert_eq!(problems[0].line, Some(2));
    }
}
