//! SPEC G4: `tater-agent sbom` prints a CycloneDX 1.5 SBOM of what was built, valid against
//! the official schema (checked by Python's jsonschema), rustls and no OpenSSL in it.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use std::process::Command;

use serde_json::Value;

use tater_testkit::sbom::validate_cyclonedx as validate;

#[test]
fn the_agent_sbom_is_valid_cyclonedx_of_what_was_built() {
    let out = Command::new(env!("CARGO_BIN_EXE_tater-agent"))
        .arg("sbom")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, errors) = validate(&out.stdout);
    assert!(ok, "{errors}");
    let bom: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bom["specVersion"], "1.5");
    assert_eq!(bom["metadata"]["component"]["name"], "tater-agent");
    let names: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for wanted in ["rustls", "reqwest", "tater-checks", "hickory-resolver"] {
        assert!(names.contains(&wanted), "{wanted} missing");
    }
    assert!(
        !names.iter().any(|n| n.contains("openssl")),
        "no OpenSSL in the agent"
    );
    let clap = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "clap")
        .unwrap();
    assert_eq!(clap["hashes"][0]["alg"], "SHA-256");
    assert_eq!(clap["hashes"][0]["content"].as_str().unwrap().len(), 64);

    // The validator does validate: a broken SBOM is refused.
    let mut broken = bom.clone();
    broken["components"][0]["type"] = Value::from("spaceship");
    let (ok, errors) = validate(&serde_json::to_vec(&broken).unwrap());
    assert!(!ok, "a bad component type must be refused");
    assert!(errors.contains("spaceship"), "{errors}");
}
