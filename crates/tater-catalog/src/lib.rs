//! Control catalogs and frameworks, loaded from OSCAL.
//!
//! [`CatalogBuilder`] takes any OSCAL catalog or profile: catalogs add controls (a later
//! catalog replaces the text of controls it shares with an earlier one, so newer releases can be
//! layered over older ones), profiles become frameworks (their `include-controls` and
//! `exclude-controls` resolved against the loaded controls). [`Catalog::builtin`] is NIST SP
//! 800-53 Rev 5 with its LOW, MODERATE, HIGH and PRIVACY baselines, embedded in the binary.
//! A catalog is read-only once built and shared by every tenant.

mod checks;
mod oscal;
mod render;

pub use checks::{Check, CheckCatalog, CheckFileError, Severity};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tater_domain::module::normalize_control_id;

/// One control or enhancement.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// OSCAL id: `ac-2`, `ac-2.1`.
    pub id: String,
    /// As people write it: `AC-2`, `AC-2(1)`.
    pub label: String,
    /// Orders controls naturally (`ac-02.01`).
    pub sort_id: String,
    /// Family id and title: `ac`, `Access Control`.
    pub family: String,
    pub family_title: String,
    pub title: String,
    /// The statement as text, parameters shown as `[Assignment: …]` / `[Selection: …]`.
    pub statement: String,
    pub guidance: String,
    pub params: Vec<Param>,
    pub withdrawn: bool,
    /// For enhancements, the base control.
    pub parent: Option<String>,
    /// The catalog (title and version) the text comes from.
    pub source: Arc<str>,
}

/// A parameter an organization fills in (an organization-defined value).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub id: String,
    /// Other ids of the same parameter in other releases (`ac-2_prm_1` for `ac-02_odp.01`).
    pub alt_ids: Vec<String>,
    pub label: String,
    pub guidelines: String,
    /// For selection parameters, the allowed choices.
    pub choices: Vec<String>,
    /// `one` or `one-or-more` for selections.
    pub how_many: Option<String>,
}

/// A set of controls: a baseline or a whole catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Framework {
    pub id: String,
    pub title: String,
    /// Control ids in catalog order.
    pub controls: Vec<String>,
    members: HashSet<String>,
}

impl Framework {
    pub fn contains(&self, control_id: &str) -> bool {
        self.members.contains(control_id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{name}: not OSCAL JSON: {reason}")]
    Parse { name: String, reason: String },
    #[error("{0}: neither an OSCAL catalog nor a profile")]
    NotCatalogOrProfile(String),
    #[error("{name}: {reason}")]
    Read { name: String, reason: String },
    #[error("profile {profile}: imports all of '{href}', which names no loaded catalog")]
    UnresolvedImport { profile: String, href: String },
    #[error(
        "{catalog}: control id '{id}' is not one Tater can look up (lower-case OSCAL ids such as \
         ac-2 or ac-2.1, or letters, digits, '.', '-' and '_')"
    )]
    ControlId { catalog: String, id: String },
}

/// Controls and frameworks, immutable once built.
#[derive(Debug)]
pub struct Catalog {
    controls: Vec<Control>,
    index: HashMap<String, usize>,
    frameworks: Vec<Framework>,
    families: Vec<(String, String)>,
}

impl Catalog {
    /// NIST SP 800-53 Rev 5 and its baselines, parsed once per process on first use.
    pub fn builtin() -> Result<Arc<Catalog>, Arc<CatalogError>> {
        static BUILTIN: OnceLock<Result<Arc<Catalog>, Arc<CatalogError>>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| build_builtin().map(Arc::new).map_err(Arc::new))
            .clone()
    }

    /// The built-in documents plus every `*.json` OSCAL catalog and profile in `dir`, so
    /// another framework is data, not code. Catalogs add or replace controls; each profile
    /// becomes a framework named after its file (`cmmc-l2.json` → `cmmc-l2`) and may select
    /// controls from any catalog loaded.
    pub fn with_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let read_err = |name: &Path, e: std::io::Error| CatalogError::Read {
            name: name.display().to_string(),
            reason: e.to_string(),
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read_err(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
            .collect();
        // Sorted, so the later of two catalogs defining a control is predictable.
        files.sort();
        let mut b = builtin_builder()?;
        for path in &files {
            let size = std::fs::metadata(path)
                .map_err(|e| read_err(path, e))?
                .len();
            if size > MAX_DOCUMENT_BYTES {
                return Err(CatalogError::Read {
                    name: path.display().to_string(),
                    reason: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
            let bytes = std::fs::read(path).map_err(|e| read_err(path, e))?;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            b.add_document(&name, None, &bytes)?;
        }
        b.build()
    }

    /// All controls in catalog order.
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    /// A control by id in either form (`ac-2.1` or `AC-2(1)`).
    pub fn control(&self, id: &str) -> Option<&Control> {
        let id = normalize_control_id(id)?;
        self.index.get(&id).map(|&i| &self.controls[i])
    }

    /// Position of a control in catalog order (for pagination).
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn frameworks(&self) -> &[Framework] {
        &self.frameworks
    }

    pub fn framework(&self, id: &str) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    /// Ids of the frameworks that include `control_id`.
    pub fn frameworks_of(&self, control_id: &str) -> Vec<&str> {
        self.frameworks
            .iter()
            .filter(|f| f.contains(control_id))
            .map(|f| f.id.as_str())
            .collect()
    }

    /// Family ids and titles, in catalog order.
    pub fn families(&self) -> &[(String, String)] {
        &self.families
    }
}

/// The built-in documents, in load order: (name, framework id for profiles, bytes).
const BUILTIN_DOCUMENTS: &[(&str, Option<&str>, &[u8])] = &[
    // Named as NIST publishes it, so profiles importing the catalog by file name resolve.
    (
        "NIST_SP-800-53_rev5_catalog.json",
        None,
        include_bytes!("../data/nist-sp800-53-rev5/catalog-5.0.1.json"),
    ),
    (
        "high-resolved-5.1.1.min.json",
        None,
        include_bytes!("../data/nist-sp800-53-rev5/high-resolved-5.1.1.min.json"),
    ),
    (
        "privacy-resolved-5.1.1.json",
        None,
        include_bytes!("../data/nist-sp800-53-rev5/privacy-resolved-5.1.1.json"),
    ),
    (
        "low-profile.json",
        Some("nist-800-53-rev5-low"),
        include_bytes!("../data/nist-sp800-53-rev5/low-profile.json"),
    ),
    (
        "moderate-profile.json",
        Some("nist-800-53-rev5-moderate"),
        include_bytes!("../data/nist-sp800-53-rev5/moderate-profile.json"),
    ),
    (
        "high-profile.json",
        Some("nist-800-53-rev5-high"),
        include_bytes!("../data/nist-sp800-53-rev5/high-profile.json"),
    ),
    (
        "privacy-profile.json",
        Some("nist-800-53-rev5-privacy"),
        include_bytes!("../data/nist-sp800-53-rev5/privacy-profile.json"),
    ),
];

/// The id of the framework holding every built-in control.
pub const FULL_CATALOG_FRAMEWORK: &str = "nist-800-53-rev5";

/// The largest OSCAL document read from a catalog directory (the full Rev 5 catalog is 3 MiB).
const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

fn build_builtin() -> Result<Catalog, CatalogError> {
    builtin_builder()?.build()
}

fn builtin_builder() -> Result<CatalogBuilder, CatalogError> {
    let mut b = CatalogBuilder::new();
    for (name, framework, bytes) in BUILTIN_DOCUMENTS {
        b.add_document(name, *framework, bytes)?;
    }
    b.add_full_framework(
        FULL_CATALOG_FRAMEWORK,
        "NIST SP 800-53 Rev 5 (all controls)",
    );
    Ok(b)
}

/// A loaded catalog document: its names and the controls it defined.
type Source = (Vec<String>, HashSet<String>);

/// Collects catalogs and profiles, then resolves them into a [`Catalog`].
#[derive(Default)]
pub struct CatalogBuilder {
    controls: BTreeMap<String, Control>,
    families: Vec<(String, String)>,
    profiles: Vec<(String, oscal::Profile)>,
    full: Vec<(String, String, HashSet<String>)>,
    /// Each catalog document's names (file name, its stem, OSCAL uuid) and the controls it
    /// defined, for profiles that import all of one catalog.
    sources: Vec<Source>,
    /// Controls defined by the catalog being added.
    defined: HashSet<String>,
}

impl CatalogBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an OSCAL document: a catalog's controls, or a profile as framework `framework_id`
    /// (default: `name` without `.json`).
    pub fn add_document(
        &mut self,
        name: &str,
        framework_id: Option<&str>,
        bytes: &[u8],
    ) -> Result<(), CatalogError> {
        let doc: oscal::Document =
            serde_json::from_slice(bytes).map_err(|e| CatalogError::Parse {
                name: name.to_owned(),
                reason: e.to_string(),
            })?;
        match (doc.catalog, doc.profile) {
            (Some(catalog), _) => {
                let mut names = vec![name.to_owned(), file_stem(name).to_owned()];
                names.extend(catalog.uuid.clone());
                self.add_catalog(catalog);
                let defined = std::mem::take(&mut self.defined);
                self.sources.push((names, defined));
                Ok(())
            }
            (None, Some(profile)) => {
                let id = framework_id
                    .map_or_else(|| name.trim_end_matches(".json").to_owned(), str::to_owned);
                self.profiles.push((id, profile));
                Ok(())
            }
            (None, None) => Err(CatalogError::NotCatalogOrProfile(name.to_owned())),
        }
    }

    /// A framework holding every control loaded so far (withdrawn ones included); controls
    /// from documents added later are not in it.
    pub fn add_full_framework(&mut self, id: &str, title: &str) {
        let members = self.controls.keys().cloned().collect();
        self.full.push((id.to_owned(), title.to_owned(), members));
    }

    fn add_catalog(&mut self, catalog: oscal::Catalog) {
        let version = catalog.metadata.version.as_deref().unwrap_or("");
        let source: Arc<str> = Arc::from(format!("{} {version}", catalog.metadata.title).trim());
        for group in &catalog.groups {
            self.add_group(group, None, &source);
        }
        for control in &catalog.controls {
            self.add_control(control, ("", ""), None, &source);
        }
    }

    fn add_group(&mut self, group: &oscal::Group, family: Option<(&str, &str)>, source: &Arc<str>) {
        let id = group.id.as_deref().unwrap_or("");
        let family = family.unwrap_or((id, group.title.as_str()));
        if !family.0.is_empty() && !self.families.iter().any(|(f, _)| f == family.0) {
            self.families
                .push((family.0.to_owned(), family.1.to_owned()));
        }
        for sub in &group.groups {
            self.add_group(sub, Some(family), source);
        }
        for control in &group.controls {
            self.add_control(control, family, None, source);
        }
    }

    fn add_control(
        &mut self,
        c: &oscal::Control,
        family: (&str, &str),
        parent: Option<&str>,
        source: &Arc<str>,
    ) {
        let prop = |name: &str| {
            c.props
                .iter()
                .find(|p| p.name == name && p.class.is_none())
                .map(|p| p.value.clone())
        };
        let params: Vec<Param> = c.params.iter().map(render::param).collect();
        let text = |name: &str| render::part_text(&c.parts, name, &params);
        let control = Control {
            id: c.id.clone(),
            label: prop("label").unwrap_or_else(|| c.id.to_uppercase()),
            sort_id: prop("sort-id").unwrap_or_else(|| c.id.clone()),
            family: family.0.to_owned(),
            family_title: family.1.to_owned(),
            title: c.title.clone(),
            statement: text("statement"),
            guidance: text("guidance"),
            params,
            withdrawn: c
                .props
                .iter()
                .any(|p| p.name == "status" && p.value == "withdrawn"),
            parent: parent.map(str::to_owned),
            source: source.clone(),
        };
        // A later catalog replaces the text; family and parent survive if it lacks them.
        let merged = match self.controls.remove(&control.id) {
            Some(old) => Control {
                family: if control.family.is_empty() {
                    old.family
                } else {
                    control.family
                },
                family_title: if control.family_title.is_empty() {
                    old.family_title
                } else {
                    control.family_title
                },
                parent: control.parent.or(old.parent),
                ..control
            },
            None => control,
        };
        self.defined.insert(merged.id.clone());
        self.controls.insert(merged.id.clone(), merged);
        for child in &c.controls {
            self.add_control(child, family, Some(&c.id), source);
        }
    }

    /// Resolves profiles and orders controls.
    pub fn build(self) -> Result<Catalog, CatalogError> {
        // Every id must be its own normal form, or `Catalog::control` could never find it
        // (found by the fuzz target oscal_catalog: a control `ac;1` loaded, unreachable).
        if let Some(c) = self
            .controls
            .values()
            .find(|c| normalize_control_id(&c.id).as_deref() != Some(c.id.as_str()))
        {
            return Err(CatalogError::ControlId {
                catalog: c.source.to_string(),
                id: c.id.clone(),
            });
        }
        let mut controls: Vec<Control> = self.controls.into_values().collect();
        controls.sort_by(|a, b| a.sort_id.cmp(&b.sort_id).then_with(|| a.id.cmp(&b.id)));
        let index: HashMap<String, usize> = controls
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let children: HashMap<&str, Vec<&str>> =
            controls.iter().fold(HashMap::new(), |mut m, c| {
                if let Some(p) = &c.parent {
                    m.entry(p.as_str()).or_default().push(c.id.as_str());
                }
                m
            });
        let mut frameworks = Vec::new();
        for (id, profile) in &self.profiles {
            let mut selected: HashSet<String> = HashSet::new();
            for import in &profile.imports {
                if import.include_all.is_some() {
                    let all = imported_catalog(&self.sources, &import.href, profile).ok_or_else(
                        || CatalogError::UnresolvedImport {
                            profile: id.clone(),
                            href: import.href.clone(),
                        },
                    )?;
                    selected.extend(all.iter().cloned());
                }
                let expand = |sel: &oscal::Selection| -> Vec<String> {
                    let mut ids: Vec<String> = sel
                        .with_ids
                        .iter()
                        .filter(|i| index.contains_key(*i))
                        .cloned()
                        .collect();
                    if sel.with_child_controls.as_deref() == Some("yes") {
                        for id in sel.with_ids.iter() {
                            ids.extend(
                                children
                                    .get(id.as_str())
                                    .into_iter()
                                    .flatten()
                                    .map(|c| (*c).to_owned()),
                            );
                        }
                    }
                    ids
                };
                for sel in &import.include_controls {
                    selected.extend(expand(sel));
                }
                for sel in &import.exclude_controls {
                    for id in expand(sel) {
                        selected.remove(&id);
                    }
                }
            }
            frameworks.push(framework(id, &profile.metadata.title, &controls, selected));
        }
        for (id, title, members) in self.full {
            frameworks.push(framework(&id, &title, &controls, members));
        }
        Ok(Catalog {
            controls,
            index,
            frameworks,
            families: self.families,
        })
    }
}

/// The controls of the catalog an import's href names: a loaded document's file name (or
/// stem) or uuid, directly or through the profile's back-matter resource for `#uuid`.
fn imported_catalog<'a>(
    sources: &'a [Source],
    href: &str,
    profile: &oscal::Profile,
) -> Option<&'a HashSet<String>> {
    let mut refs = vec![href];
    if let Some(uuid) = href.strip_prefix('#') {
        refs.push(uuid);
        for r in profile
            .back_matter
            .resources
            .iter()
            .filter(|r| r.uuid == uuid)
        {
            refs.extend(r.rlinks.iter().map(|l| l.href.as_str()));
        }
    }
    let wanted: Vec<&str> = refs
        .iter()
        .map(|r| r.rsplit('/').next().unwrap_or(r))
        .flat_map(|r| [r, file_stem(r)])
        .collect();
    sources
        .iter()
        .rev()
        .find(|(names, _)| names.iter().any(|n| wanted.contains(&n.as_str())))
        .map(|(_, ids)| ids)
}

/// A file name without its last extension (`a/b.json` → `b`).
fn file_stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.rsplit_once('.').map_or(base, |(stem, _)| stem)
}

fn framework(id: &str, title: &str, controls: &[Control], members: HashSet<String>) -> Framework {
    let ordered = controls
        .iter()
        .filter(|c| members.contains(&c.id))
        .map(|c| c.id.clone())
        .collect();
    Framework {
        id: id.to_owned(),
        title: title.to_owned(),
        controls: ordered,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_catalog_and_profile_resolve() {
        let catalog = br#"{"catalog": {"metadata": {"title": "Mini", "version": "1"}, "groups": [
            {"id": "xx", "title": "Example", "controls": [
              {"id": "xx-1", "title": "One", "props": [{"name": "label", "value": "XX-1"}, {"name": "sort-id", "value": "xx-01"}],
               "params": [{"id": "xx-1_prm_1", "label": "organization-defined frequency"},
                          {"id": "xx-1_prm_2", "select": {"how-many": "one-or-more", "choice": ["daily", "weekly"]}}],
               "parts": [{"name": "statement", "prose": "Review {{ insert: param, xx-1_prm_1 }} and {{ insert: param, xx-1_prm_2 }}.",
                          "parts": [{"name": "item", "props": [{"name": "label", "value": "a."}], "prose": "First."}]},
                         {"name": "guidance", "prose": "Because."}],
               "controls": [{"id": "xx-1.1", "title": "Enh", "props": [{"name": "label", "value": "XX-1(1)"}, {"name": "sort-id", "value": "xx-01.01"}]}]},
              {"id": "xx-2", "title": "Two", "props": [{"name": "status", "value": "withdrawn"}, {"name": "sort-id", "value": "xx-02"}]}]}]}}"#;
        let profile = br##"{"profile": {"metadata": {"title": "Base"}, "imports": [{"href": "#x",
            "include-controls": [{"with-ids": ["xx-1", "nope-9"], "with-child-controls": "yes"}]}]}}"##;
        let mut b = CatalogBuilder::new();
        b.add_document("mini.json", None, catalog).unwrap();
        b.add_document("base.json", None, profile).unwrap();
        assert!(b.add_document("junk.json", None, b"{}").is_err());
        let c = b.build().unwrap();
        let one = c.control("XX-1").unwrap();
        assert_eq!(
            one.statement,
            "Review [Assignment: organization-defined frequency] and [Selection (one or more): daily; weekly].\na. First."
        );
        assert_eq!(one.guidance, "Because.");
        assert_eq!(
            c.control("xx-1(1)").unwrap().parent.as_deref(),
            Some("xx-1")
        );
        assert!(c.control("xx-2").unwrap().withdrawn);
        let base = c.framework("base").unwrap();
        assert_eq!(base.controls, vec!["xx-1", "xx-1.1"]);
        assert_eq!(c.families(), &[("xx".to_owned(), "Example".to_owned())]);
    }
}
