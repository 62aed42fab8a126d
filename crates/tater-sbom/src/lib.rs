//! A CycloneDX 1.5 JSON SBOM of one binary's dependency tree, made by its build script (SPEC
//! G4). The tree is what `cargo tree -p <package> -e normal --target <target>` resolves —
//! the crates linked into the binary, with the features a `cargo build -p <package>` turns
//! on — and each crate's SHA-256 comes from Cargo.lock. The binary embeds the result, so
//! `tater sbom` / `tater-agent sbom` print the SBOM of exactly what was built.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// One crate of the tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Crate {
    name: String,
    version: String,
    license: String,
    /// `registry`, or `path` for workspace crates.
    local: bool,
}

impl Crate {
    fn purl(&self) -> String {
        format!("pkg:cargo/{}@{}", self.name, self.version)
    }
}

/// Runs `cargo tree` for `package` (from a build script: `CARGO` and the manifest directory
/// come from the environment) and returns the SBOM as pretty JSON.
pub fn from_build_script(package: &str) -> Result<String, String> {
    let cargo = std::env::var("CARGO").map_err(|_| "CARGO is not set (run from a build script)")?;
    let dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| "CARGO_MANIFEST_DIR is not set")?;
    let target = std::env::var("TARGET").unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--target",
            &target,
        ])
        .args([
            "--prefix",
            "depth",
            "--format",
            "{p}|{l}",
            "--charset",
            "ascii",
        ])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("running cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lock = find_lock(Path::new(&dir)).unwrap_or_default();
    let tree = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::to_string_pretty(&cyclonedx(&tree, &lock)).unwrap_or_default())
}

fn find_lock(dir: &Path) -> Option<String> {
    dir.ancestors()
        .find_map(|d| std::fs::read_to_string(d.join("Cargo.lock")).ok())
}

/// `name version -> sha256` from Cargo.lock.
fn checksums(lock: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |k: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(&format!("{k} = "))
                    .map(|v| v.trim().trim_matches('"').to_owned())
            })
        };
        if let (Some(n), Some(v), Some(c)) = (field("name"), field("version"), field("checksum")) {
            out.insert((n, v), c);
        }
    }
    out
}

/// Parses `cargo tree --prefix depth --format "{p}|{l}"` lines: `<depth>name vX.Y.Z [(source)] [(*)]|licence`.
fn parse_line(line: &str) -> Option<(usize, Crate)> {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let depth: usize = line[..digits].parse().ok()?;
    let (pkg, license) = line[digits..].split_once('|')?;
    let mut words = pkg.split_whitespace();
    let name = words.next()?.to_owned();
    let version = words.next()?.trim_start_matches('v').to_owned();
    let local = pkg.contains("(/");
    Some((
        depth,
        Crate {
            name,
            version,
            license: license.trim().to_owned(),
            local,
        },
    ))
}

/// The SBOM of a `cargo tree` listing, with Cargo.lock checksums.
pub fn cyclonedx(tree: &str, lock: &str) -> Value {
    let sums = checksums(lock);
    let mut crates: BTreeSet<Crate> = BTreeSet::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<Crate> = None;
    for (depth, c) in tree.lines().filter_map(parse_line) {
        stack.truncate(depth);
        if let Some(parent) = stack.last() {
            edges.entry(parent.clone()).or_default().insert(c.purl());
        }
        edges.entry(c.purl()).or_default();
        stack.push(c.purl());
        if depth == 0 {
            root = Some(c);
        } else {
            crates.insert(c);
        }
    }
    let component = |c: &Crate, kind: &str| {
        let mut v = json!({
            "type": kind, "bom-ref": c.purl(), "name": c.name, "version": c.version, "purl": c.purl(),
        });
        if let Some(sum) = sums.get(&(c.name.clone(), c.version.clone())) {
            v["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
        }
        if !c.license.is_empty() {
            v["licenses"] = json!([{ "expression": c.license }]);
        }
        if c.local {
            v["description"] = json!("part of Tater");
        }
        v
    };
    let root = root.unwrap_or(Crate {
        name: "unknown".into(),
        version: "0".into(),
        license: String::new(),
        local: true,
    });
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": { "components": [{ "type": "library", "name": "tater-sbom", "version": env!("CARGO_PKG_VERSION") }] },
            "component": component(&root, "application"),
        },
        "components": crates.iter().map(|c| component(c, "library")).collect::<Vec<_>>(),
        "dependencies": edges.into_iter().map(|(r, deps)| json!({ "ref": r, "dependsOn": deps })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_becomes_components_and_edges() {
        let tree = "0tater-agent v0.1.0 (/w/crates/tater-agent)|\n1clap v4.6.9|MIT OR Apache-2.0\n2anstyle v1.0.14|MIT OR Apache-2.0\n1serde v1.0.1|MIT\n2anstyle v1.0.14 (*)|MIT OR Apache-2.0\n";
        let lock = "[[package]]\nname = \"clap\"\nversion = \"4.6.9\"\nsource = \"registry+x\"\nchecksum = \"abc\"\n";
        let bom = cyclonedx(tree, lock);
        assert_eq!(bom["metadata"]["component"]["name"], "tater-agent");
        assert_eq!(bom["components"].as_array().map(Vec::len), Some(3));
        assert_eq!(bom["components"][1]["hashes"][0]["content"], "abc");
        let deps = bom["dependencies"].as_array().cloned().unwrap_or_default();
        let serde = deps
            .iter()
            .find(|d| d["ref"] == "pkg:cargo/serde@1.0.1")
            .cloned()
            .unwrap_or_default();
        assert_eq!(serde["dependsOn"], json!(["pkg:cargo/anstyle@1.0.14"]));
    }
}
