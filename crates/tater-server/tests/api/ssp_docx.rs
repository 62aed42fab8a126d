//! The SSP as a Word document (issue 7 item 5), opened with independent readers: the `zip`
//! crate and an XML parser (`roxmltree`) for the package, and LibreOffice headless, when it is
//! installed, converting it to PDF.

use std::io::{Cursor, Read};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(the_ssp_exports_as_a_word_document);

const W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

fn part(docx: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    zip.by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// Every paragraph of the body as (style id, text), tables included.
fn paragraphs(xml: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name((W, "p")))
        .map(|p| {
            let style = p
                .descendants()
                .find(|n| n.has_tag_name((W, "pStyle")))
                .and_then(|n| n.attribute((W, "val")))
                .unwrap_or_default()
                .to_owned();
            let text: String = p
                .descendants()
                .filter(|n| n.has_tag_name((W, "t")))
                .filter_map(|n| n.text())
                .collect();
            (style, text)
        })
        .collect()
}

async fn docx(app: &TestApp, key: &Key) -> Vec<u8> {
    let res = app
        .req(Method::GET, "/api/ssp?format=docx", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    res.bytes().await.unwrap().to_vec()
}

async fn the_ssp_exports_as_a_word_document(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Word Org").await;
    let boss = app.member(org, "boss@word.test", Role::OrgAdmin).await;
    let viewer = app.member(org, "viewer@word.test", Role::Viewer).await;
    let other = app.org("Other Word Org").await;
    let other_boss = app.member(other, "boss@other.test", Role::OrgAdmin).await;
    let profile = json!({
        "name": "Acme Mission System", "abbreviation": "AMS",
        "description": "Processes CUI.\nSecond paragraph.",
        "confidentiality": "moderate", "integrity": "high", "availability": "low",
        "informationTypes": [{ "title": "Contract data", "description": "CUI from contracts.", "confidentiality": "moderate" }],
        "authorizationBoundary": "Two VPCs & the office LAN <inside>.",
        "issoName": "Ivy Isso", "issoEmail": "isso@acme.example",
    });
    assert_eq!(
        app.send(Method::PUT, "/api/system-profile", &boss, &profile)
            .await
            .0,
        StatusCode::OK
    );
    for (control, body) in [
        (
            "ac-2",
            json!({ "implementationStatus": "implemented", "narrative": "Accounts live in Entra ID: <b>markup</b> & \"quotes\".\nReviewed monthly.", "responsibleRoles": ["Identity Team"], "parameterValues": { "ac-02_odp.01": "security officer" } }),
        ),
        (
            "pe-3",
            json!({ "applicability": "not-applicable", "justification": "Cloud only." }),
        ),
    ] {
        let (s, v) = app
            .send(
                Method::PUT,
                &format!("/api/controls/{control}/overlay"),
                &boss,
                &body,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{control}: {v}");
    }
    let (s, _) = app
        .send(
            Method::PUT,
            "/api/controls/ac-2/overlay",
            &other_boss,
            &json!({ "narrative": "OTHER ORG SECRET NARRATIVE" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let bytes = docx(&app, &viewer).await;
    let document = part(&bytes, "word/document.xml");
    let paras = paragraphs(&document);
    let texts: Vec<&str> = paras.iter().map(|(_, t)| t.as_str()).collect();
    // Title page.
    assert!(texts.contains(&"System Security Plan"));
    assert!(texts.contains(&"Acme Mission System (AMS)"));
    // A table-of-contents field over heading levels 1–2, already filled in.
    assert!(
        document.contains("TOC \\o &quot;1-2&quot;") || document.contains("TOC \\o \"1-2\""),
        "no TOC field"
    );
    assert!(
        paras
            .iter()
            .any(|(s, t)| s.eq_ignore_ascii_case("toc1") && t.contains("1 System Information")),
        "TOC entries"
    );
    // Word's heading styles, so the navigation pane lists families and controls.
    let styles = part(&bytes, "word/styles.xml");
    for level in 1..=3 {
        assert!(
            styles.contains(&format!("w:styleId=\"Heading{level}\"")),
            "Heading{level}"
        );
        assert!(
            styles.contains(&format!("<w:name w:val=\"heading {level}\"")),
            "heading {level} name"
        );
    }
    let headings = |style: &str| -> Vec<&str> {
        paras
            .iter()
            .filter(|(s, _)| s == style)
            .map(|(_, t)| t.as_str())
            .collect()
    };
    let h1 = headings("Heading1");
    assert_eq!(
        h1,
        [
            "1 System Information",
            "2 Security Categorization (FIPS 199)",
            "3 System Environment",
            "4 Control Implementation"
        ]
    );
    assert!(
        headings("Heading2").contains(&"4.1 AC — Access Control"),
        "{:?}",
        headings("Heading2")
    );
    // Every control of the MODERATE baseline has its heading, in catalog order.
    let catalog = tater_catalog::Catalog::builtin().unwrap();
    let moderate = &catalog
        .framework("nist-800-53-rev5-moderate")
        .unwrap()
        .controls;
    let h3 = headings("Heading3");
    assert_eq!(h3.len(), moderate.len());
    for (id, h) in moderate.iter().zip(&h3) {
        let c = catalog.control(id).unwrap();
        assert_eq!(*h, format!("{} {}", c.label, c.title));
    }
    // The categorization table, the system information and the overlays' content.
    for expected in [
        "Information System Security Officer",
        "Ivy Isso <isso@acme.example>",
        "Processes CUI.",
        "Second paragraph.",
        "Overall (high-water mark)",
        "High",
        "Contract data",
        "Two VPCs & the office LAN <inside>.",
        "Accounts live in Entra ID: <b>markup</b> & \"quotes\".",
        "Reviewed monthly.",
        "Identity Team",
        "ac-02_odp.01: security officer",
        "Not applicable: Cloud only.",
        "not-applicable",
        "implemented",
    ] {
        assert!(texts.contains(&expected), "missing {expected:?}");
    }
    assert!(
        !document.contains("OTHER ORG SECRET"),
        "another organization's narrative"
    );
    // Tables: one for the system, two for categorization, one per control.
    let tables = roxmltree::Document::parse(&document)
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name((W, "tbl")))
        .count();
    assert_eq!(tables, 3 + moderate.len());

    // The other organization's SSP is its own.
    let theirs = part(&docx(&app, &other_boss).await, "word/document.xml");
    assert!(
        theirs.contains("OTHER ORG SECRET NARRATIVE") && !theirs.contains("Acme Mission System")
    );
    assert_eq!(
        app.get("/api/ssp?format=pdf", &viewer).await.0,
        StatusCode::BAD_REQUEST
    );

    // One definition per style id, and Normal is the default paragraph style.
    let style_doc = roxmltree::Document::parse(&styles).unwrap();
    let mut ids: Vec<&str> = style_doc
        .descendants()
        .filter(|n| n.has_tag_name((W, "style")))
        .filter_map(|n| n.attribute((W, "styleId")))
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "a style id is defined twice: {styles}");
    let defaults: Vec<_> = style_doc
        .descendants()
        .filter(|n| n.has_tag_name((W, "style")) && n.attribute((W, "default")) == Some("1"))
        .map(|n| (n.attribute((W, "type")), n.attribute((W, "styleId"))))
        .collect();
    assert_eq!(defaults, [(Some("paragraph"), Some("Normal"))]);

    python_docx_reads(&bytes);
    libreoffice_converts(&bytes);
}

/// python-docx, a second independent reader, finds a style for every paragraph (unstyled
/// ones get the default paragraph style) and the headings by their Word names.
fn python_docx_reads(docx: &[u8]) {
    let has_reader = std::process::Command::new("python3")
        .args(["-c", "import docx"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_reader {
        eprintln!(
            "skipped: python-docx is not installed (pip install python-docx), so the second reader did not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ssp.docx");
    std::fs::write(&input, docx).unwrap();
    let script = r#"
import sys, docx
from docx.enum.style import WD_STYLE_TYPE
d = docx.Document(sys.argv[1])
default = d.styles.default(WD_STYLE_TYPE.PARAGRAPH)
assert default is not None and default.name == "Normal", default
ids = [s.style_id for s in d.styles]
assert len(ids) == len(set(ids)), ids
unstyled = [p.text for p in d.paragraphs if p.style is None]
assert not unstyled, unstyled[:5]
names = {p.style.name for p in d.paragraphs}
assert {"Normal", "Heading 1", "Heading 2", "Heading 3", "Title"} <= names, names
print(len(d.paragraphs))
"#;
    python(script, &input);
}

/// LibreOffice, where installed, converts the document to PDF without error.
fn libreoffice_converts(docx: &[u8]) {
    let Some(soffice) = ["soffice", "libreoffice"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!("skipped: LibreOffice is not installed, so the PDF conversion check did not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ssp.docx");
    std::fs::write(&input, docx).unwrap();
    let convert = || {
        std::process::Command::new(soffice)
            .args([
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
            ])
            .arg(dir.path())
            .arg(&input)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let mut out = convert();
    // LibreOffice itself sometimes aborts at start-up on a loaded machine ("Fatal
    // exception: Signal 6" before it reads the file); a document it cannot read fails the
    // same way twice.
    if !out.status.success() {
        eprintln!(
            "LibreOffice failed once; again:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out = convert();
    }
    let pdf = dir.path().join("ssp.pdf");
    assert!(
        out.status.success() && pdf.exists(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(pdf).unwrap();
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() > 50_000,
        "{} bytes",
        bytes.len()
    );
}
