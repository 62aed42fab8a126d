//! Validates a CycloneDX 1.5 SBOM with Python's jsonschema against the official schema kept in
//! `crates/tater-sbom/tests/schema` (an independent reader of what Tater writes).

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether `bom` is valid, and the validator's messages.
pub fn validate_cyclonedx(bom: &[u8]) -> (bool, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tater-sbom/tests/validate.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with jsonschema is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bom)
        .expect("write the SBOM");
    let out = child.wait_with_output().expect("the validator runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
