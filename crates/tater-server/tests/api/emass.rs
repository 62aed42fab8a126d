//! The POA&M as a DoD eMASS import workbook (issue 7 item 3), read back with `calamine`, an
//! independent reader: the banner, the header block, the exact row-7 headers of each layout,
//! one row per milestone, real Excel dates, eMASS vocabulary and the template's lists of
//! allowed values.

use std::io::{Cursor, Read};

use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(the_poam_exports_in_every_emass_layout);

/// The exact row-7 headers of each layout (column B onwards), as listed in the shared
/// reference `emass-poam-columns.md` — written out here rather than taken from the code.
fn expected_headers(layout: &str) -> Vec<&'static str> {
    let current_b_to_v = [
        "POA&M Item ID",
        "Control Vulnerability Description",
        "Controls / APs",
        "Security Checks",
        "POA&M Status",
        "POA&M Scheduled Completion Date",
        "POA&M Requested Risk Accepted Expiration Date",
        "POA&M Completion Date",
        "Milestone ID",
        "Milestone Description",
        "Milestone Status",
        "Milestone Status Comments",
        "Milestone Scheduled Completion Date",
        "Milestone Completion Date",
        "Identification Source",
        "Identification Source Details",
        "Office/Org",
        "Resources Required",
        "Comments",
        "Raw Severity",
        "Devices Affected",
    ];
    let navy_w_to_ag = [
        "Mitigations (in-house and in conjunction with the Navy CSSP)",
        "Predisposing Conditions",
        "Severity",
        "Relevance of Threat",
        "Threat Description",
        "Likelihood",
        "Impact",
        "Impact Description",
        "Residual Risk Level",
        "Recommendations",
        "Resulting Residual Risk after Proposed Mitigations",
    ];
    match layout {
        "navy" => [&current_b_to_v[..], &navy_w_to_ag[..]].concat(),
        "marine-corps" => {
            let mut h = [&current_b_to_v[..], &navy_w_to_ag[..10]].concat();
            h[21] = "Mitigations";
            h
        }
        "army" => {
            let mut h = current_b_to_v.to_vec();
            h[14] = "Identification Source ";
            h.extend([
                "Mitigations",
                "Severity",
                "Relevance of Threat",
                "Likelihood",
                "Impact",
                "Impact Description",
                "Residual Risk Level",
                "Recommendations",
                "Identified in CFO Audit or other review",
                "Personnel Resources: \nCost Code",
                "Personnel Resources: Funded Base Hours",
                "Personnel Resources: Unfunded Base Hours",
                "Personnel Resources: \nNon-Funding Obstacle",
                "Personnel Resources: Non-Funded Obstacle Other Reason",
                "Non-Personnel Resources: Cost Code",
                "Non-Personnel Resources: Funded Amount",
                "Non-Personnel Resources: Unfunded Amount",
                "Non-Personnel Resources: Non-Funding Obstacle",
                "Non-Personnel Resources: Non-Funding Obstacle Other reason",
            ]);
            h
        }
        "legacy" => vec![
            "POA&M Item ID",
            "Control Vulnerability Description",
            "Controls / APs",
            "Office/Org",
            "Security Checks",
            "Resources Required",
            "Scheduled Completion Date",
            "Milestone ID",
            "Milestone with Completion Dates",
            "Milestone Changes",
            "Source Identifying Vulnerability ",
            "Status",
            "Comments",
            "Raw Severity",
            "Devices Affected",
            "Mitigations (in-house and in conjunction with the Navy CSSP)",
            "Predisposing Conditions",
            "Severity",
            "Relevance of Threat",
            "Threat Description",
            "Likelihood",
            "Impact",
            "Impact Description",
            "Residual Risk Level",
            "Recommendations",
            "Resulting Residual Risk after Proposed Mitigations",
        ],
        other => panic!("no layout {other}"),
    }
}

/// A1-style reference → (row, column), both from 0.
fn pos(cell: &str) -> (u32, u32) {
    let letters: String = cell.chars().take_while(char::is_ascii_alphabetic).collect();
    let row: u32 = cell[letters.len()..].parse().unwrap();
    let col = letters
        .bytes()
        .fold(0u32, |acc, b| acc * 26 + u32::from(b - b'A' + 1));
    (row - 1, col - 1)
}

struct Sheet(Range<Data>);

impl Sheet {
    fn at(&self, cell: &str) -> &Data {
        self.0.get_value(pos(cell)).unwrap_or(&Data::Empty)
    }
    fn text(&self, cell: &str) -> String {
        match self.at(cell) {
            Data::String(s) => s.clone(),
            Data::Empty => String::new(),
            other => panic!("{cell} is not text: {other:?}"),
        }
    }
    /// An Excel date (a serial number with a date format), as `YYYY-MM-DD`.
    fn date(&self, cell: &str) -> String {
        match self.at(cell) {
            Data::DateTime(d) => {
                // Excel's day 0 is 1899-12-30 (for dates after February 1900).
                let epoch = time::macros::date!(1899 - 12 - 30);
                let day = epoch + time::Duration::days(d.as_f64() as i64);
                tater_domain::time::format_date(day)
            }
            other => panic!("{cell} is not an Excel date: {other:?}"),
        }
    }
    fn used_rows(&self) -> u32 {
        self.0.end().unwrap().0 + 1
    }
}

/// Column letter of `header` in row 7.
fn column_of(sheet: &Sheet, header: &str) -> String {
    for c in 1..45u32 {
        let letter = letter(c);
        if sheet.text(&format!("{letter}7")) == header {
            return letter;
        }
    }
    panic!("no column {header:?}");
}

fn letter(c: u32) -> String {
    if c < 26 {
        char::from(b'A' + c as u8).to_string()
    } else {
        format!("{}{}", letter(c / 26 - 1), letter(c % 26))
    }
}

async fn workbook(app: &TestApp, key: &Key, query: &str) -> (Vec<u8>, Sheet, Vec<String>) {
    let res = app
        .req(
            Method::GET,
            &format!("/api/poam/export?format=emass-xlsx{query}"),
            key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains(".xlsx"), "{disposition}");
    let bytes = res.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
    let names = book.sheet_names();
    let range = book.worksheet_range("POA&M").unwrap();
    (bytes, Sheet(range), names)
}

/// The `<dataValidation>` lists of the POA&M sheet: (cell range, allowed values).
fn validations(xlsx: &[u8]) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml.split("<dataValidation ")
        .skip(1)
        .map(|v| {
            let sqref = v
                .split("sqref=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let list = v
                .split("<formula1>")
                .nth(1)
                .unwrap()
                .split("</formula1>")
                .next()
                .unwrap();
            (sqref.to_owned(), list.replace("&quot;", "\""))
        })
        .collect()
}

async fn the_poam_exports_in_every_emass_layout(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Fleet Systems").await;
    let admin = app.member(org, "isso@fleet.test", Role::OrgAdmin).await;
    let other = app.org("Other Org").await;
    let other_admin = app.member(other, "admin@other.test", Role::Admin).await;
    let (status, _) = app
        .send(
            Method::PUT,
            "/api/system-profile",
            &admin,
            &json!({
                "name": "Fleet Logistics System", "abbreviation": "FLS",
                "issoName": "Pat Doe", "issoEmail": "pat@fleet.test", "issoPhone": "555-0100",
                "component": "Navy", "itRegistrationNumber": "12345", "systemType": "IS Major Application",
                "ombProjectId": "007-000001", "securityCosts": "$120,000",
                "classification": "UNCLASSIFIED//FOR TRAINING",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // An ongoing item with three milestones (one completed), a risk-accepted one with a
    // milestone eMASS would refuse, a false positive, and one whose text looks like a formula.
    let mut ongoing = sample("poam", 1);
    ongoing["title"] = json!("OpenSSL patch");
    ongoing["weaknessDescription"] = json!("OpenSSL 1.1 on the web tier");
    ongoing["status"] = json!("In Progress");
    ongoing["controls"] = json!(["SI-2", "RA-5"]);
    ongoing["source"] = json!("ACAS scan 2030-01");
    ongoing["asset"] = json!("web01; web02");
    ongoing["pointOfContact"] = json!("Sam Lee, 555-0101, sam@fleet.test");
    ongoing["resourcesRequired"] = json!("8 hours");
    ongoing["scheduledCompletion"] = json!("2030-03-31");
    ongoing["milestones"] = json!([
        { "description": "Order the patch", "status": "Completed", "scheduledCompletion": "2030-01-15", "completionDate": "2030-01-10" },
        { "description": "Test it", "status": "In Progress", "scheduledCompletion": "2030-02-15" },
        { "description": "Deploy it", "scheduledCompletion": "2030-03-31" },
    ]);
    app.create("poam", &admin, ongoing).await;
    let mut accepted = sample("poam", 2);
    accepted["status"] = json!("Risk Accepted");
    accepted["impact"] = json!("Low");
    accepted["justification"] = json!("Isolated network segment.");
    accepted["milestones"] =
        json!([{ "description": "Ask the vendor", "scheduledCompletion": "2030-01-05" }]);
    app.create("poam", &admin, accepted).await;
    let mut false_positive = sample("poam", 3);
    false_positive["status"] = json!("False Positive");
    false_positive["justification"] = json!("Scanner misread the banner.");
    app.create("poam", &admin, false_positive).await;
    let mut formula = sample("poam", 4);
    formula["title"] = json!("=HYPERLINK(\"http://evil.test\",\"x\")");
    formula["weaknessDescription"] = json!("=1+1");
    app.create("poam", &other_admin, formula.clone()).await;
    app.create("poam", &admin, formula).await;

    for layout in ["navy", "army", "marine-corps", "legacy"] {
        let (bytes, sheet, names) =
            workbook(&app, &admin, &format!("&layout={layout}&sort=title")).await;
        assert_eq!(names[0], "POA&M", "{layout}");
        assert_eq!(sheet.text("A1"), "***** UNCLASSIFIED//FOR TRAINING *****");
        // Rows 2–6: the header block, values beside their labels.
        assert_eq!(sheet.text("A2"), "Date Exported:");
        assert_eq!(sheet.date("B2").len(), 10, "a real date");
        assert_eq!(sheet.text("A3"), "Exported By:");
        assert_eq!(sheet.text("B3"), "isso@fleet.test");
        assert_eq!(sheet.text("A4"), "CC/S/A/FA:");
        assert_eq!(sheet.text("B4"), "Navy");
        assert_eq!(sheet.text("A5"), "System / Project Name:");
        assert_eq!(sheet.text("B5"), "Fleet Logistics System");
        let registration = if layout == "legacy" {
            "DoD IT Registration No:"
        } else {
            "DoW IT Registration No:"
        };
        assert_eq!(sheet.text("A6"), registration);
        assert_eq!(sheet.text("B6"), "12345");
        assert_eq!(
            (sheet.text("L2"), sheet.text("M2")),
            ("System Type:".into(), "IS Major Application".into())
        );
        assert_eq!(
            (sheet.text("L4"), sheet.text("M4")),
            ("POC Name:".into(), "Pat Doe".into())
        );
        assert_eq!(
            (sheet.text("L5"), sheet.text("M5")),
            ("POC Phone:".into(), "555-0100".into())
        );
        assert_eq!(
            (sheet.text("L6"), sheet.text("M6")),
            ("POC E-Mail:".into(), "pat@fleet.test".into())
        );
        let right = if layout == "marine-corps" {
            ["O", "P"]
        } else {
            ["P", "Q"]
        };
        assert_eq!(sheet.text(&format!("{}2", right[0])), "OMB Project ID:");
        assert_eq!(sheet.text(&format!("{}2", right[1])), "007-000001");
        assert_eq!(sheet.text(&format!("{}5", right[0])), "Security Costs:");
        assert_eq!(sheet.text(&format!("{}5", right[1])), "$120,000");
        // Row 7: the exact headers, column A empty.
        let expected = expected_headers(layout);
        assert_eq!(sheet.text("A7"), "");
        let got: Vec<String> = (1..=expected.len() as u32)
            .map(|c| sheet.text(&format!("{}7", letter(c))))
            .collect();
        assert_eq!(got, expected, "{layout} headers");
        assert_eq!(
            sheet.text(&format!("{}7", letter(expected.len() as u32 + 1))),
            "",
            "no extra column"
        );

        // Items from row 8, sorted by title: "=HYPERLINK…", "OpenSSL patch" (3 milestone
        // rows), "POAM 2" (risk accepted: one row), "POAM 3" (false positive).
        let c = |h: &str| column_of(&sheet, h);
        let desc = c("Control Vulnerability Description");
        let status = c(if layout == "legacy" {
            "Status"
        } else {
            "POA&M Status"
        });
        assert_eq!(
            sheet.used_rows(),
            7 + 1 + 3 + 1 + 1,
            "{layout}: one row per milestone"
        );
        assert_eq!(
            sheet.text(&format!("{desc}8")),
            "=HYPERLINK(\"http://evil.test\",\"x\"): =1+1"
        );
        assert!(
            matches!(sheet.at(&format!("{desc}8")), Data::String(_)),
            "a formula-looking text stays text"
        );
        assert_eq!(
            sheet.text(&format!("{desc}9")),
            "OpenSSL patch: OpenSSL 1.1 on the web tier"
        );
        assert_eq!(
            sheet.text(&format!("{}9", c("Controls / APs"))),
            "SI-2; RA-5"
        );
        assert_eq!(sheet.text(&format!("{status}9")), "Ongoing");
        assert_eq!(sheet.text(&format!("{status}12")), "Risk Accepted");
        assert_eq!(sheet.text(&format!("{status}13")), "Not Applicable");
        assert_eq!(sheet.text(&format!("{}9", c("Raw Severity"))), "High");
        assert_eq!(sheet.text(&format!("{}12", c("Severity"))), "Low");
        assert_eq!(
            sheet.text(&format!("{}9", c("Office/Org"))),
            "Fleet Systems, Sam Lee, 555-0101, sam@fleet.test"
        );
        assert_eq!(
            sheet.text(&format!("{}9", c("Devices Affected"))),
            "web01; web02"
        );
        let source = if layout == "legacy" {
            "Source Identifying Vulnerability "
        } else if layout == "army" {
            "Identification Source "
        } else {
            "Identification Source"
        };
        assert_eq!(sheet.text(&format!("{}9", c(source))), "ACAS scan 2030-01");
        let scheduled = c(if layout == "legacy" {
            "Scheduled Completion Date"
        } else {
            "POA&M Scheduled Completion Date"
        });
        assert_eq!(sheet.date(&format!("{scheduled}9")), "2030-03-31");
        let comments = sheet.text(&format!("{}12", c("Comments")));
        assert!(
            comments.contains("Isolated network segment.") && comments.contains("Ask the vendor"),
            "{comments}"
        );
        // Milestone rows: the item's fields only on its first row.
        for row in [10, 11] {
            assert_eq!(
                sheet.text(&format!("{desc}{row}")),
                "",
                "{layout} row {row}"
            );
            assert_eq!(sheet.text(&format!("{status}{row}")), "");
        }
        if layout == "legacy" {
            let m = c("Milestone with Completion Dates");
            assert_eq!(
                sheet.text(&format!("{m}9")),
                "Order the patch (scheduled 2030-01-15; completed 2030-01-10)"
            );
            assert_eq!(
                sheet.text(&format!("{m}11")),
                "Deploy it (scheduled 2030-03-31)"
            );
            assert_eq!(
                sheet.text(&format!("{m}12")),
                "",
                "no milestone on a risk-accepted item"
            );
        } else {
            let (m, ms, msd, mcd) = (
                c("Milestone Description"),
                c("Milestone Status"),
                c("Milestone Scheduled Completion Date"),
                c("Milestone Completion Date"),
            );
            assert_eq!(sheet.text(&format!("{m}9")), "Order the patch");
            assert_eq!(sheet.text(&format!("{ms}9")), "Completed");
            assert_eq!(sheet.date(&format!("{mcd}9")), "2030-01-10");
            assert_eq!(sheet.text(&format!("{m}10")), "Test it");
            assert_eq!(sheet.text(&format!("{ms}10")), "Pending");
            assert_eq!(sheet.date(&format!("{msd}10")), "2030-02-15");
            assert_eq!(sheet.at(&format!("{mcd}10")), &Data::Empty);
            assert_eq!(sheet.text(&format!("{m}11")), "Deploy it");
            assert_eq!(
                sheet.text(&format!("{m}12")),
                "",
                "no milestone on a risk-accepted item"
            );
        }
        // The template's lists of allowed values, from row 8 down.
        let lists = validations(&bytes);
        let status_list = lists
            .iter()
            .find(|(_, l)| l == "\"Ongoing,Risk Accepted,Completed,Not Applicable\"")
            .unwrap_or_else(|| panic!("{layout}: no status list in {lists:?}"));
        assert!(
            status_list.0.starts_with(&format!("{status}8:{status}")),
            "{status_list:?}"
        );
        let levels = lists
            .iter()
            .filter(|(_, l)| l == "\"Very Low,Low,Moderate,High,Very High\"")
            .count();
        assert!(
            levels >= 4,
            "{layout}: severity, relevance, likelihood, impact lists: {lists:?}"
        );
        assert_eq!(
            lists
                .iter()
                .any(|(_, l)| l == "\"Pending,Completed,Archived\""),
            layout != "legacy",
            "{layout}: milestone status list"
        );
    }

    // The list's filters apply; another organization sees only its own item.
    let (_, sheet, _) = workbook(&app, &admin, "&status=Risk%20Accepted").await;
    assert_eq!(sheet.used_rows(), 8);
    assert_eq!(sheet.text("C8"), "POAM 2: weakness");
    let (_, sheet, _) = workbook(&app, &other_admin, "").await;
    assert_eq!(
        sheet.used_rows(),
        8,
        "only the other organization's one item"
    );
    assert_eq!(
        sheet.text("B5"),
        "Other Org system",
        "no profile: named after the organization"
    );
    assert_eq!(sheet.text("B3"), "admin@other.test");
    assert_eq!(
        sheet.text("A1"),
        "***** CONTROLLED UNCLASSIFIED INFORMATION *****"
    );
    assert!(!format!("{:?}", sheet.0).contains("OpenSSL patch"));
    // Bad input is a clear 400.
    for q in ["&layout=airforce", "&layout=navy&bogus=1"] {
        let (status, problem) = app
            .get(&format!("/api/poam/export?format=emass-xlsx{q}"), &admin)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {problem}");
    }
    assert_eq!(
        app.get("/api/poam/export?format=csv&layout=navy", &admin)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/risks/export?format=emass-xlsx", &admin)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}
