//! Export formats for module records.
//!
//! CSV follows RFC 4180 (comma, CRLF, quotes doubled), starts with a UTF-8 byte-order mark so
//! Excel reads accents correctly, and neutralises formula injection: a text cell that begins
//! with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so spreadsheet programs
//! show it as text instead of evaluating it. Numbers are written as numbers.

pub mod emass;
pub mod oscal_poam;
pub mod oscal_ssp;
pub mod ssp_docx;

use serde_json::Value;
use tater_domain::module::ModuleDef;

/// The UTF-8 byte-order mark Excel needs to recognise UTF-8 CSV.
pub const UTF8_BOM: &str = "\u{feff}";

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Writes CSV chunks for one module: the header first, then rows as pages arrive.
pub struct CsvExport {
    def: &'static ModuleDef,
}

impl CsvExport {
    pub fn new(def: &'static ModuleDef) -> Self {
        Self { def }
    }

    /// The byte-order mark and the header row (the module's declared column names).
    pub fn header(&self) -> Vec<u8> {
        let mut out = UTF8_BOM.as_bytes().to_vec();
        out.extend(encode_row(
            self.def.csv_columns.iter().map(|c| (*c).to_owned()),
        ));
        out
    }

    /// One CSV row per record view.
    pub fn rows(&self, records: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            let cells = self
                .def
                .csv_columns
                .iter()
                .map(|c| cell(r.get(*c).unwrap_or(&Value::Null)));
            out.extend(encode_row(cells));
        }
        out
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
