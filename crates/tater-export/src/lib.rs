//! Export formats for module records and every other list.
//!
//! CSV follows RFC 4180 (comma, CRLF, quotes doubled), starts with a UTF-8 byte-order mark so
//! Excel reads accents correctly, and neutralises formula injection: a text cell that begins
//! with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so spreadsheet programs
//! show it as text instead of evaluating it. Numbers are written as numbers.

pub mod emass;
pub mod oscal_poam;
pub mod oscal_ssp;
pub mod policy_pdf;
pub mod ssp_docx;

pub use policy_pdf::{PdfError, PolicyPdf, policy_pdf};
use serde_json::Value;
use tater_domain::module::ModuleDef;

/// The UTF-8 byte-order mark Excel needs to recognise UTF-8 CSV.
pub const UTF8_BOM: &str = "\u{feff}";

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Writes CSV chunks for one list: the header first, then rows as pages arrive.
pub struct CsvExport {
    columns: &'static [&'static str],
}

impl CsvExport {
    /// A module's declared columns.
    pub fn new(def: &'static ModuleDef) -> Self {
        Self::with_columns(def.csv_columns)
    }

    /// Any list's columns (the JSON export carries every field; the CSV these).
    pub fn with_columns(columns: &'static [&'static str]) -> Self {
        Self { columns }
    }

    /// The byte-order mark and the header row.
    pub fn header(&self) -> Vec<u8> {
        let mut out = UTF8_BOM.as_bytes().to_vec();
        out.extend(encode_row(self.columns.iter().map(|c| (*c).to_owned())));
        out
    }

    /// One CSV row per item.
    pub fn rows(&self, items: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for item in items {
            let cells = self
                .columns
                .iter()
                .map(|c| cell(item.get(*c).unwrap_or(&Value::Null)));
            out.extend(encode_row(cells));
        }
        out
    }
}

/// The two formats every list exports in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Csv,
    Json,
}

impl ListFormat {
    /// `csv` or `json`; anything else is not a list format.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// Encodes a list a page at a time, in either format: `head`, then `page` for each page as
/// it arrives, then `tail`. Only the page being encoded is ever in memory.
pub struct ListEncoder {
    format: ListFormat,
    csv: CsvExport,
    /// No JSON item written yet (no comma before the next).
    first: bool,
}

impl ListEncoder {
    pub fn new(format: ListFormat, columns: &'static [&'static str]) -> Self {
        Self {
            format,
            csv: CsvExport::with_columns(columns),
            first: true,
        }
    }

    pub fn head(&self) -> Vec<u8> {
        match self.format {
            ListFormat::Csv => self.csv.header(),
            ListFormat::Json => b"[".to_vec(),
        }
    }

    pub fn page(&mut self, items: &[Value]) -> Vec<u8> {
        match self.format {
            ListFormat::Csv => self.csv.rows(items),
            ListFormat::Json => {
                let mut out = Vec::new();
                for item in items {
                    if !self.first {
                        out.push(b',');
                    }
                    self.first = false;
                    out.push(b'\n');
                    out.extend(item.to_string().into_bytes());
                }
                out
            }
        }
    }

    pub fn tail(&self) -> Vec<u8> {
        match self.format {
            ListFormat::Csv => Vec::new(),
            ListFormat::Json => b"\n]\n".to_vec(),
        }
    }
}

/// One RFC 4180 row, CRLF-terminated. Cells are written as given (callers neutralise).
pub fn encode_row(cells: impl Iterator<Item = String>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; an error here would be a bug in the csv crate.
    let _ = w.write_record(cells.collect::<Vec<_>>());
    w.into_inner().unwrap_or_default()
}

/// The text of one cell. Lists of strings are joined with `; `; lists of objects (such as
/// milestones) become `key: value` pairs separated by `, ` and objects by ` | `.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => neutralise(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(flatten).collect();
            let sep = if items.iter().any(Value::is_object) {
                " | "
            } else {
                "; "
            };
            neutralise(&parts.join(sep))
        }
        Value::Object(_) => neutralise(&flatten(value)),
    }
}

fn flatten(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}: {}", flatten(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => items.iter().map(flatten).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// Prefixes `'` to text a spreadsheet would evaluate.
pub fn neutralise(s: &str) -> String {
    if s.starts_with(FORMULA_TRIGGERS) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tater_domain::modules::POAM;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        for evil in ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(&json!(evil)).starts_with('\''), "{evil:?}");
        }
        assert_eq!(cell(&json!(-5)), "-5");
        assert_eq!(cell(&json!("plain")), "plain");
        assert_eq!(cell(&json!(["ac-2", "ac-3"])), "ac-2; ac-3");
        assert_eq!(
            cell(
                &json!([{"id": 1, "description": "a", "completionDate": null}, {"id": 2, "description": "=b"}])
            ),
            "id: 1, description: a | id: 2, description: =b"
        );
    }

    #[test]
    fn a_list_encodes_a_page_at_a_time_as_json_or_csv() {
        let pages = [
            vec![json!({"id": 1, "name": "a"})],
            vec![],
            vec![json!({"id": 2, "name": "=b"})],
        ];
        let mut json_out = ListEncoder::new(ListFormat::Json, &["id", "name"]);
        let mut bytes = json_out.head();
        for p in &pages {
            bytes.extend(json_out.page(p));
        }
        bytes.extend(json_out.tail());
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parsed,
            json!([{"id": 1, "name": "a"}, {"id": 2, "name": "=b"}])
        );
        let empty = ListEncoder::new(ListFormat::Json, &["id"]);
        let mut bytes = empty.head();
        bytes.extend(empty.tail());
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), json!([]));
        let mut csv_out = ListEncoder::new(ListFormat::Csv, &["id", "name"]);
        let mut text = csv_out.head();
        for p in &pages {
            text.extend(csv_out.page(p));
        }
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "\u{feff}id,name\r\n1,a\r\n2,'=b\r\n"
        );
        assert_eq!(ListFormat::parse("xml"), None);
    }

    #[test]
    fn rows_follow_rfc_4180() {
        let export = CsvExport::new(&POAM);
        let header = String::from_utf8(export.header()).unwrap();
        assert!(header.starts_with("\u{feff}id,title,"));
        assert!(header.ends_with("\r\n"));
        let row =
            String::from_utf8(export.rows(&[json!({"id": "x", "title": "a, \"b\"\nc"})])).unwrap();
        assert!(row.starts_with("x,\"a, \"\"b\"\"\nc\","), "{row}");
    }
}
