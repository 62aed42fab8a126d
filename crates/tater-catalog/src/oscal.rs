//! The subset of the OSCAL catalog and profile models Tater reads (OSCAL 1.0–1.2 JSON).
//! Unknown fields are ignored, so newer documents load as long as these parts keep their shape.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Document {
    pub catalog: Option<Catalog>,
    pub profile: Option<Profile>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub title: String,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    pub uuid: Option<String>,
    pub metadata: Metadata,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
pub struct Group {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub params: Vec<Param>,
    #[serde(default)]
    pub props: Vec<Prop>,
    #[serde(default)]
    pub parts: Vec<Part>,
    #[serde(default)]
    pub controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
pub struct Prop {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub class: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Param {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub props: Vec<Prop>,
    #[serde(default)]
    pub guidelines: Vec<Prose>,
    #[serde(default)]
    pub select: Option<Select>,
}

#[derive(Debug, Deserialize)]
pub struct Prose {
    #[serde(default)]
    pub prose: String,
}

#[derive(Debug, Deserialize)]
pub struct Select {
    #[serde(rename = "how-many", default)]
    pub how_many: Option<String>,
    #[serde(default)]
    pub choice: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Part {
    pub name: String,
    #[serde(default)]
    pub props: Vec<Prop>,
    #[serde(default)]
    pub prose: Option<String>,
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
pub struct Profile {
    pub metadata: Metadata,
    #[serde(default)]
    pub imports: Vec<Import>,
    #[serde(rename = "back-matter", default)]
    pub back_matter: BackMatter,
}

/// Where a profile's `#uuid` import hrefs point.
#[derive(Debug, Default, Deserialize)]
pub struct BackMatter {
    #[serde(default)]
    pub resources: Vec<Resource>,
}

#[derive(Debug, Deserialize)]
pub struct Resource {
    pub uuid: String,
    #[serde(default)]
    pub rlinks: Vec<Link>,
}

#[derive(Debug, Deserialize)]
pub struct Link {
    pub href: String,
}

#[derive(Debug, Deserialize)]
pub struct Import {
    #[serde(default)]
    pub href: String,
    #[serde(rename = "include-all", default)]
    pub include_all: Option<serde_json::Value>,
    #[serde(rename = "include-controls", default)]
    pub include_controls: Vec<Selection>,
    #[serde(rename = "exclude-controls", default)]
    pub exclude_controls: Vec<Selection>,
}

#[derive(Debug, Deserialize)]
pub struct Selection {
    #[serde(rename = "with-ids", default)]
    pub with_ids: Vec<String>,
    #[serde(rename = "with-child-controls", default)]
    pub with_child_controls: Option<String>,
}
