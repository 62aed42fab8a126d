//! Embeds the SBOM of this binary's dependency tree (SPEC G4): `tater-server sbom` prints it.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let sbom = match tater_sbom::from_build_script("tater-server") {
        Ok(s) => s,
        // Never fail a build over the SBOM; the command then says it is unavailable.
        Err(e) => {
            println!("cargo:warning=no SBOM: {e}");
            String::new()
        }
    };
    if let Err(e) = std::fs::write(format!("{out}/sbom.json"), sbom) {
        println!("cargo:warning=cannot write the SBOM: {e}");
    }
}
