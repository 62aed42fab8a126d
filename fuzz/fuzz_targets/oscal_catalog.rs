//! The OSCAL loader (`tater_catalog::CatalogBuilder`): catalogs and profiles an operator points
//! `--catalog-dir` at. The input is one document, or a catalog and a profile separated by a
//! NUL byte, so profile resolution (imports, includes, excludes) runs against a catalog the
//! fuzzer shapes too. Invariant: no panic, no hang; every control of a built catalog is found
//! by its own id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tater_catalog::CatalogBuilder;

fuzz_target!(|data: &[u8]| {
    let mut builder = CatalogBuilder::new();
    for (i, doc) in data.splitn(2, |b| *b == 0).enumerate() {
        let name = if i == 0 { "catalog.json" } else { "profile.json" };
        if builder.add_document(name, None, doc).is_err() {
            return;
        }
    }
    if let Ok(catalog) = builder.build() {
        for control in catalog.controls() {
            assert!(catalog.control(&control.id).is_some(), "{} not found", control.id);
        }
    }
});
