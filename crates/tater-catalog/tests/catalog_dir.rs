//! Another framework is data: OSCAL documents dropped into a catalog directory load next to
//! the built-in SP 800-53 catalog.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tater_catalog::{Catalog, CatalogError, FULL_CATALOG_FRAMEWORK};

/// A small organization-specific catalog and a profile that mixes its controls with 800-53's.
const EXTRA_CATALOG: &str = r#"{"catalog": {"uuid": "00000000-0000-4000-8000-000000000001",
  "metadata": {"title": "Acme Internal Controls", "version": "2026.1"},
  "groups": [{"id": "acme", "title": "Acme", "controls": [
    {"id": "acme-1", "title": "Badge audits", "props": [{"name": "label", "value": "ACME-1"}],
     "parts": [{"name": "statement", "prose": "Audit badge access monthly."}]}]}]}}"#;

const EXTRA_PROFILE: &str = r##"{"profile": {"uuid": "00000000-0000-4000-8000-000000000002",
  "metadata": {"title": "Acme Baseline"},
  "imports": [
    {"href": "#acme", "include-controls": [{"with-ids": ["acme-1"]}]},
    {"href": "#nist", "include-controls": [{"with-ids": ["ac-2"], "with-child-controls": "yes"}],
     "exclude-controls": [{"with-ids": ["ac-2.13"]}]}]}}"##;

#[test]
fn a_directory_adds_controls_and_frameworks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme-controls.json"), EXTRA_CATALOG).unwrap();
    std::fs::write(dir.path().join("acme-baseline.json"), EXTRA_PROFILE).unwrap();
    std::fs::write(dir.path().join("README.txt"), "not json, ignored").unwrap();
    // include-all takes the named catalog's controls, not everything loaded.
    let all_of = |href: &str| {
        format!(
            r#"{{"profile": {{"metadata": {{"title": "All of {href}"}}, "imports": [{{"href": "{href}", "include-all": {{}}}}]}}}}"#
        )
    };
    std::fs::write(
        dir.path().join("acme-all.json"),
        all_of("acme-controls.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nist-all.json"),
        all_of("https://example.org/oscal/NIST_SP-800-53_rev5_catalog.json"),
    )
    .unwrap();
    let builtin = Catalog::builtin().unwrap();
    let catalog = Catalog::with_dir(dir.path()).unwrap();

    assert_eq!(catalog.controls().len(), builtin.controls().len() + 1);
    let acme = catalog.control("ACME-1").unwrap();
    assert_eq!(acme.family, "acme");
    assert_eq!(acme.statement, "Audit badge access monthly.");
    assert_eq!(&*acme.source, "Acme Internal Controls 2026.1");

    let framework = catalog.framework("acme-baseline").unwrap();
    assert_eq!(framework.title, "Acme Baseline");
    let enhancements = builtin
        .controls()
        .iter()
        .filter(|c| c.parent.as_deref() == Some("ac-2") && c.id != "ac-2.13")
        .count();
    assert_eq!(framework.controls.len(), 2 + enhancements);
    assert!(framework.contains("acme-1") && framework.contains("ac-2.1"));
    assert!(!framework.contains("ac-2.13"));
    assert_eq!(
        catalog.frameworks_of("acme-1"),
        vec!["acme-all", "acme-baseline"]
    );
    assert_eq!(catalog.framework("acme-all").unwrap().controls, ["acme-1"]);
    assert_eq!(
        catalog.framework("nist-all").unwrap().controls,
        builtin.framework(FULL_CATALOG_FRAMEWORK).unwrap().controls
    );
    // The built-in frameworks are unchanged: the full 800-53 set does not absorb Acme's.
    let full = catalog.framework(FULL_CATALOG_FRAMEWORK).unwrap();
    assert_eq!(
        full.controls,
        builtin.framework(FULL_CATALOG_FRAMEWORK).unwrap().controls
    );
    assert_eq!(catalog.frameworks().len(), builtin.frameworks().len() + 3);
}

#[test]
fn a_bad_document_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"catalog\": ").unwrap();
    let err = Catalog::with_dir(dir.path()).unwrap_err();
    assert!(matches!(&err, CatalogError::Parse { name, .. } if name == "broken.json"));
    std::fs::write(dir.path().join("broken.json"), "{\"component\": {}}").unwrap();
    let err = Catalog::with_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("broken.json"), "{err}");
    std::fs::write(
        dir.path().join("broken.json"),
        r##"{"profile": {"metadata": {"title": "X"}, "imports": [{"href": "#nowhere", "include-all": {}}]}}"##,
    )
    .unwrap();
    let err = Catalog::with_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, CatalogError::UnresolvedImport { profile, href } if profile == "broken" && href == "#nowhere"),
        "{err}"
    );
    let missing = Catalog::with_dir(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(missing, CatalogError::Read { .. }), "{missing}");
}

/// Found by the fuzz target `oscal_catalog`: a control whose id is not its own normal form
/// (`ac;1`, `AC-1`, `ac-01`) loaded, and then no lookup could ever find it. Such a catalog is
/// refused, naming the id.
#[test]
fn a_control_id_that_lookups_cannot_reach_is_refused() {
    for id in ["ac;1", "AC-1", "ac-01", "acme 1"] {
        let doc = EXTRA_CATALOG.replace("\"acme-1\"", &format!("{:?}", id));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("acme-controls.json"), doc).unwrap();
        let err = Catalog::with_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, CatalogError::ControlId { id: bad, .. } if bad == id),
            "{id}: {err}"
        );
        assert!(err.to_string().contains("Acme Internal Controls"), "{err}");
    }
}
