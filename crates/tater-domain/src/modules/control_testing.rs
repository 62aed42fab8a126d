//! Control testing: how each control is tested (SP 800-53A's examine, interview and test
//! methods) and each run of a test with its result, tester and evidence.

use crate::module::{FieldDef, ModuleDef};

pub const TEST_METHODS: &[&str] = &["Examine", "Interview", "Test"];
pub const TEST_FREQUENCIES: &[&str] = &["Monthly", "Quarterly", "Semi-annual", "Annual", "Ad hoc"];
/// SP 800-53A's determinations.
pub const TEST_RESULTS: &[&str] = &["Satisfied", "Other than satisfied", "Not applicable"];

pub static CONTROL_TEST_PROCEDURES: ModuleDef = ModuleDef {
    name: "control-test-procedures",
    entity_type: "control-test-procedure",
    singular: "Control test procedure",
    plural: "Control test procedures",
    nouns: ("control_test_procedure", "control_test_procedures"),
    description: "How a control is tested: the method (examine, interview, test), the steps, \
                  how often, and who owns the test.",
    fields: &[
        super::TITLE,
        FieldDef::control_id("control", "Control")
            .required()
            .filter()
            .sort(),
        FieldDef::enumeration("method", "Method", TEST_METHODS)
            .default_value("Test")
            .filter()
            .sort(),
        FieldDef::long_text("steps", "Steps (Markdown)", 20_000)
            .required()
            .search(),
        FieldDef::long_text("expectedResult", "Expected result", 4000),
        FieldDef::enumeration("frequency", "Frequency", TEST_FREQUENCIES)
            .default_value("Annual")
            .filter()
            .sort(),
        FieldDef::email("owner", "Owner (e-mail)").filter().sort(),
    ],
    csv_columns: &[
        "id",
        "title",
        "control",
        "method",
        "frequency",
        "owner",
        "steps",
        "expectedResult",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "control",
    ..ModuleDef::PLAIN
};

pub static CONTROL_TEST_RUNS: ModuleDef = ModuleDef {
    name: "control-test-runs",
    entity_type: "control-test-run",
    singular: "Control test run",
    plural: "Control test runs",
    nouns: ("control_test_run", "control_test_runs"),
    description: "One run of a control test: the control, the procedure followed, the tester, \
                  the date, the determination and the evidence. Filter `control=<id>` and \
                  sort `-testedOn` for a control's last test.",
    fields: &[
        FieldDef::control_id("control", "Control")
            .required()
            .filter()
            .sort(),
        FieldDef::record_ref("procedure", "Procedure", "control-test-procedures").filter(),
        FieldDef::email("tester", "Tester (e-mail)")
            .required()
            .filter()
            .sort(),
        FieldDef::date("testedOn", "Tested on")
            .required()
            .filter()
            .sort(),
        FieldDef::enumeration("result", "Result", TEST_RESULTS)
            .required()
            .filter()
            .sort(),
        FieldDef::long_text("notes", "Observations", 8000).search(),
        FieldDef::record_ref("evidence", "Evidence", "evidence").filter(),
    ],
    csv_columns: &[
        "id",
        "control",
        "procedure",
        "tester",
        "testedOn",
        "result",
        "notes",
        "evidence",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-testedOn",
    ..ModuleDef::PLAIN
};
