//! The OSCAL 1.2.1 JSON schemas (copied from the NIST release into `tests/data`) validate
//! NIST's own example SSP and POAM, and refuse a broken one — so when Tater's SSP and POAM
//! exports are checked against them, the check means something.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use serde_json::Value;

fn load(path: &str) -> Value {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}")))
        .unwrap()
}

/// Every validation error, as `path: message`.
fn errors(schema: &str, doc: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&load(schema)).expect("the OSCAL schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

const SSP: &str = "oscal-schema-1.2.1/oscal_ssp_schema.json";
const POAM: &str = "oscal-schema-1.2.1/oscal_poam_schema.json";

#[test]
fn nist_examples_validate() {
    for example in [
        "oscal-examples/ssp-example.json",
        "oscal-examples/ifa_ssp-example.json",
    ] {
        let e = errors(SSP, &load(example));
        assert!(e.is_empty(), "{example}: {e:?}");
    }
    let e = errors(
        POAM,
        &load("oscal-examples/ifa_plan-of-action-and-milestones.json"),
    );
    assert!(e.is_empty(), "{e:?}");
}

#[test]
fn a_broken_ssp_is_refused() {
    let mut ssp = load("oscal-examples/ssp-example.json");
    let plan = ssp["system-security-plan"].as_object_mut().unwrap();
    plan.remove("metadata");
    plan.insert("uuid".into(), Value::from("not-a-uuid"));
    let e = errors(SSP, &ssp);
    assert!(e.iter().any(|m| m.contains("metadata")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("uuid")), "{e:?}");
}
