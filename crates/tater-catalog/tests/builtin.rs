//! The built-in SP 800-53 catalog against its OSCAL sources: counts come from the files, read
//! here independently of the loader, never from literals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use serde_json::Value;
use tater_catalog::{Catalog, FULL_CATALOG_FRAMEWORK};

fn read(name: &str) -> Value {
    let path = format!(
        "{}/data/nist-sp800-53-rev5/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every control id in a catalog document, with whether it is withdrawn.
fn control_ids(doc: &Value) -> Vec<(String, bool)> {
    fn walk(v: &Value, out: &mut Vec<(String, bool)>) {
        for key in ["groups", "controls"] {
            for item in v.get(key).and_then(Value::as_array).into_iter().flatten() {
                if key == "controls" {
                    let withdrawn = item["props"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["name"] == "status" && p["value"] == "withdrawn");
                    out.push((item["id"].as_str().unwrap().to_owned(), withdrawn));
                }
                walk(item, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&doc["catalog"], &mut out);
    out
}

fn profile_ids(name: &str) -> HashSet<String> {
    read(name)["profile"]["imports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["include-controls"].as_array().unwrap().iter())
        .flat_map(|s| s["with-ids"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_control_of_the_sources_is_loaded() {
    let catalog = Catalog::builtin().unwrap();
    let full = control_ids(&read("catalog-5.0.1.json"));
    let resolved: Vec<(String, bool)> = [
        "high-resolved-5.1.1.min.json",
        "privacy-resolved-5.1.1.json",
    ]
    .iter()
    .flat_map(|f| control_ids(&read(f)))
    .collect();
    let all: HashSet<&str> = full
        .iter()
        .chain(resolved.iter())
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        catalog.controls().len(),
        all.len(),
        "one entry per distinct control id in the sources"
    );
    let withdrawn_in_source = full.iter().filter(|(_, w)| *w).count();
    assert_eq!(
        catalog.controls().iter().filter(|c| c.withdrawn).count(),
        withdrawn_in_source
    );
    for (id, _) in &resolved {
        let c = catalog.control(id).unwrap();
        assert!(
            c.source.contains("5.1.1"),
            "{id} carries the newer text: {}",
            c.source
        );
        assert!(!c.statement.is_empty(), "{id} has a statement");
        assert!(!c.family_title.is_empty(), "{id} has a family");
    }
    let full_fw = catalog.framework(FULL_CATALOG_FRAMEWORK).unwrap();
    assert_eq!(full_fw.controls.len(), all.len());
    assert_eq!(catalog.families().len(), 20);
}

#[test]
fn baselines_match_their_profiles_and_nest() {
    let catalog = Catalog::builtin().unwrap();
    let set = |id: &str| -> HashSet<String> {
        catalog
            .framework(id)
            .unwrap()
            .controls
            .iter()
            .cloned()
            .collect()
    };
    for (framework, file) in [
        ("nist-800-53-rev5-low", "low-profile.json"),
        ("nist-800-53-rev5-moderate", "moderate-profile.json"),
        ("nist-800-53-rev5-high", "high-profile.json"),
        ("nist-800-53-rev5-privacy", "privacy-profile.json"),
    ] {
        assert_eq!(
            set(framework),
            profile_ids(file),
            "{framework} selects what its profile lists"
        );
    }
    let (low, moderate, high) = (
        set("nist-800-53-rev5-low"),
        set("nist-800-53-rev5-moderate"),
        set("nist-800-53-rev5-high"),
    );
    assert!(
        low.is_subset(&moderate) && moderate.is_subset(&high),
        "LOW ⊂ MODERATE ⊂ HIGH"
    );
    assert!(low.len() < moderate.len() && moderate.len() < high.len());
}

#[test]
fn lookups_accept_both_id_forms_and_render_text() {
    let catalog = Catalog::builtin().unwrap();
    for id in ["ac-2.1", "AC-2(1)", "ac-2(1)", " AC-2.1 "] {
        assert_eq!(catalog.control(id).unwrap().id, "ac-2.1", "{id}");
    }
    assert!(catalog.control("ac-999").is_none());
    assert!(catalog.control("not a control").is_none());
    let ac2 = catalog.control("AC-2").unwrap();
    assert_eq!(
        (
            ac2.label.as_str(),
            ac2.title.as_str(),
            ac2.family_title.as_str()
        ),
        ("AC-2", "Account Management", "Access Control")
    );
    assert!(
        ac2.statement
            .contains("a. Define and document the types of accounts"),
        "{}",
        ac2.statement
    );
    assert!(
        ac2.statement.contains("[Assignment: organization-defined"),
        "parameters are shown"
    );
    assert!(!ac2.statement.contains("{{"), "no raw insert markers");
    assert!(
        ac2.params
            .iter()
            .any(|p| p.id == "ac-02_odp.01" && p.alt_ids.contains(&"ac-2_prm_1".to_owned()))
    );
    assert_eq!(
        catalog.control("ac-2.1").unwrap().parent.as_deref(),
        Some("ac-2")
    );
    let withdrawn = catalog.control("ac-2.10").unwrap();
    assert!(withdrawn.withdrawn);
    let frameworks = catalog.frameworks_of("ac-2");
    for f in [
        "nist-800-53-rev5-low",
        "nist-800-53-rev5-moderate",
        "nist-800-53-rev5-high",
        FULL_CATALOG_FRAMEWORK,
    ] {
        assert!(frameworks.contains(&f), "ac-2 is in {f}");
    }
}

#[test]
fn every_check_maps_to_real_controls() {
    let catalog = Catalog::builtin().unwrap();
    let checks = tater_catalog::CheckCatalog::builtin().unwrap();
    assert!(!checks.checks().is_empty());
    let mut ids = HashSet::new();
    for check in checks.checks() {
        assert!(ids.insert(check.id.clone()), "{} is listed twice", check.id);
        assert!(
            !check.controls.is_empty(),
            "{} maps to no control",
            check.id
        );
        for c in &check.controls {
            let control = catalog
                .control(c)
                .unwrap_or_else(|| panic!("{}: {c} is not in the catalog", check.id));
            assert_eq!(
                &control.id, c,
                "{}: control ids are stored in OSCAL form",
                check.id
            );
            assert!(!control.withdrawn, "{}: {c} is withdrawn", check.id);
        }
    }
}
