//! The control catalog as each organization sees it: the shared, read-only catalog merged with
//! the organization's overlays (SPEC D1). Reads say where every field came from.

use std::collections::HashMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};
use tater_catalog::{Catalog, Control};
use tater_domain::module::{ListQuery, Record, parse_list_query};
use tater_domain::modules::{CONTROL_OVERLAYS, overlay_record_id};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, RecordId, Timestamp, ValidationErrors};
use tater_store::TenantTx;

use crate::{Page, Service, ServiceError, ServiceResult};

/// A framework of the catalog (SP 800-53 Rev 5, a baseline, an operator's profile).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrameworkView {
    /// What `framework=` filters take.
    pub id: String,
    pub title: String,
    pub control_count: usize,
}

/// A technical check the agent runs.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct CheckView {
    pub id: String,
    pub title: String,
    #[schemars(with = "String", extend("enum" = ["Critical", "High", "Medium", "Low"]))]
    pub severity: tater_catalog::Severity,
    pub rationale: String,
    pub remediation: String,
    /// The SP 800-53 controls it gives evidence for.
    pub controls: Vec<MappedControl>,
    pub platforms: Vec<String>,
}

/// A control a check maps to, with its label (`AC-2(1)`) when the catalog knows it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct MappedControl {
    pub id: String,
    pub label: Option<String>,
}

/// Longest `q` accepted on the control list.
const MAX_SEARCH: usize = 200;
/// Overlays read per request; an organization has at most one per control.
const MAX_OVERLAYS: u32 = 100_000;

/// Filters of `GET /api/controls`.
#[derive(Debug, Default)]
struct ControlQuery {
    framework: Option<String>,
    family: Option<String>,
    status: Option<String>,
    applicability: Option<String>,
    withdrawn: Option<bool>,
    /// Some current evidence (true) or none (false).
    covered: Option<bool>,
    q: Option<String>,
    after: Option<String>,
    limit: usize,
}

fn parse_control_query(
    catalog: &Catalog,
    input: &crate::use_cases::ControlsQuery,
) -> Result<ControlQuery, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let paging = crate::use_cases::Paging {
        limit: input.limit,
        cursor: None,
    };
    let mut q = ControlQuery {
        limit: paging.page_size(&mut errors) as usize,
        status: input.status.map(|s| serde_name(&s)),
        applicability: input.applicability.map(|a| serde_name(&a)),
        withdrawn: input.withdrawn,
        covered: input
            .evidence
            .map(|e| e == crate::use_cases::EvidenceFilter::Covered),
        ..Default::default()
    };
    if let Some(v) = &input.framework {
        match catalog.framework(v.trim()) {
            Some(f) => q.framework = Some(f.id.clone()),
            None => errors.add("framework", "is not a framework (see GET /api/frameworks)"),
        }
    }
    if let Some(v) = &input.family {
        match catalog
            .families()
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(v.trim()))
        {
            Some((f, _)) => q.family = Some(f.clone()),
            None => errors.add("family", "is not a control family (e.g. ac, au, si)"),
        }
    }
    match input.q.as_deref().map(str::trim) {
        Some(v) if v.chars().count() > MAX_SEARCH => {
            errors.add("q", format!("must be at most {MAX_SEARCH} characters"))
        }
        Some(v) => q.q = Some(v.to_lowercase()),
        None => {}
    }
    if let Some(v) = &input.cursor {
        match catalog.control(v.trim()) {
            Some(c) => q.after = Some(c.id.clone()),
            None => errors.add("cursor", "is not a cursor this server issued"),
        }
    }
    errors.into_result(q)
}

/// The name serde gives a unit variant (`not-applicable`): the filter value the store knows.
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Where a field of a control's view comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The published catalog.
    Catalog,
    /// This organization's overlay.
    Organization,
    /// A value nobody set (applicability reads as `applicable`).
    Default,
    /// Nobody set it and it has no default.
    Unset,
}

/// A parameter of a control, with the organization's value if it set one.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamView {
    pub id: String,
    /// The same parameter's ids in other releases.
    pub alt_ids: Vec<String>,
    pub label: String,
    pub guidelines: String,
    /// For selection parameters, the allowed choices.
    pub choices: Vec<String>,
    /// `one` or `one-or-more` for selections.
    pub how_many: Option<String>,
    pub value: Option<String>,
    pub value_source: Origin,
}

/// Where each field of a control's view comes from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub label: Origin,
    pub title: Origin,
    pub family: Origin,
    pub statement: Origin,
    pub guidance: Origin,
    pub params: Origin,
    pub withdrawn: Origin,
    pub applicability: Origin,
    pub implementation_status: Origin,
    pub justification: Origin,
    pub narrative: Origin,
    pub responsible_roles: Origin,
    pub owner: Origin,
    pub notes: Origin,
    pub parameter_values: Origin,
}

/// When and by whom the organization's overlay was written.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverlayMeta {
    pub version: i64,
    pub updated_at: Timestamp,
    pub updated_by: String,
    pub created_at: Timestamp,
}

/// A POA&M item that names the control.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PoamRef {
    pub id: RecordId,
    pub title: Option<String>,
    pub status: Option<String>,
}

/// A catalog control merged with the organization's overlay.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Control")]
pub struct ControlView {
    /// OSCAL id: `ac-2`, `ac-2.1`.
    pub id: String,
    /// As people write it: `AC-2`, `AC-2(1)`.
    pub label: String,
    pub title: String,
    pub family: String,
    pub family_title: String,
    /// For enhancements, the base control.
    pub parent: Option<String>,
    pub withdrawn: bool,
    pub statement: String,
    pub guidance: String,
    /// The catalog the control comes from.
    pub source: String,
    /// The baselines that include it.
    pub frameworks: Vec<String>,
    pub params: Vec<ParamView>,
    /// `applicable` (the default) or `not-applicable`.
    pub applicability: String,
    /// OSCAL implementation status; null when unset.
    pub implementation_status: Option<String>,
    pub justification: Option<String>,
    pub narrative: Option<String>,
    pub responsible_roles: Vec<String>,
    pub owner: Option<String>,
    pub notes: Option<String>,
    pub provenance: Provenance,
    /// Null when the organization has not tailored the control.
    pub overlay: Option<OverlayMeta>,
    /// How many evidence records support the control now: accepted, still valid, and naming
    /// the control or linked to it.
    pub evidence: u32,
    /// The POA&M items naming the control (one control's read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poams: Option<Vec<PoamRef>>,
}

/// The control merged with the organization's overlay; `provenance` names the origin of each
/// field.
pub fn control_view(catalog: &Catalog, control: &Control, overlay: Option<&Record>) -> ControlView {
    let data = overlay.map(|o| &o.data);
    // The overlay's declaration (`CONTROL_OVERLAYS`) makes these strings and string lists;
    // an empty list counts as unset.
    let text = |k: &str| {
        data.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let list = |k: &str| {
        data.and_then(|d| d.get(k))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|a| !a.is_empty())
    };
    let origin = |set: bool| {
        if set {
            Origin::Organization
        } else {
            Origin::Unset
        }
    };
    let values = data
        .and_then(|d| d.get("parameterValues"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let params = control
        .params
        .iter()
        .map(|p| {
            let value = values.get(&p.id).and_then(Value::as_str).map(str::to_owned);
            ParamView {
                id: p.id.clone(),
                alt_ids: p.alt_ids.clone(),
                label: p.label.clone(),
                guidelines: p.guidelines.clone(),
                choices: p.choices.clone(),
                how_many: p.how_many.clone(),
                value_source: if value.is_some() {
                    Origin::Organization
                } else {
                    Origin::Catalog
                },
                value,
            }
        })
        .collect();
    let applicability = text("applicability");
    let implementation_status = text("implementationStatus");
    let justification = text("justification");
    let narrative = text("narrative");
    let responsible_roles = list("responsibleRoles");
    let owner = text("owner");
    let notes = text("notes");
    let provenance = Provenance {
        label: Origin::Catalog,
        title: Origin::Catalog,
        family: Origin::Catalog,
        statement: Origin::Catalog,
        guidance: Origin::Catalog,
        params: Origin::Catalog,
        withdrawn: Origin::Catalog,
        applicability: if applicability.is_some() {
            Origin::Organization
        } else {
            Origin::Default
        },
        implementation_status: origin(implementation_status.is_some()),
        justification: origin(justification.is_some()),
        narrative: origin(narrative.is_some()),
        responsible_roles: origin(responsible_roles.is_some()),
        owner: origin(owner.is_some()),
        notes: origin(notes.is_some()),
        parameter_values: if values.is_empty() {
            Origin::Catalog
        } else {
            Origin::Organization
        },
    };
    ControlView {
        id: control.id.clone(),
        label: control.label.clone(),
        title: control.title.clone(),
        family: control.family.clone(),
        family_title: control.family_title.clone(),
        parent: control.parent.clone(),
        withdrawn: control.withdrawn,
        statement: control.statement.clone(),
        guidance: control.guidance.clone(),
        source: control.source.to_string(),
        frameworks: catalog
            .frameworks_of(&control.id)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        params,
        applicability: applicability.unwrap_or_else(|| "applicable".to_owned()),
        implementation_status,
        justification,
        narrative,
        responsible_roles: responsible_roles.unwrap_or_default(),
        owner,
        notes,
        provenance,
        overlay: overlay.map(|o| OverlayMeta {
            version: o.meta.version,
            updated_at: o.meta.updated_at,
            updated_by: o.meta.updated_by.clone(),
            created_at: o.meta.created_at,
        }),
        evidence: 0,
        poams: None,
    }
}

/// Checks parameter values against the control's parameters; names may be either id form and
/// are stored under the current id. Selection parameters accept their choices (`; `-separated
/// when several may be chosen).
fn check_parameter_values(
    control: &Control,
    data: &mut Map<String, Value>,
    errors: &mut ValidationErrors,
) {
    let Some(Value::Object(values)) = data.get("parameterValues").cloned() else {
        return;
    };
    let mut normalised = Map::new();
    for (name, value) in values {
        let Some(param) = control
            .params
            .iter()
            .find(|p| p.id == name || p.alt_ids.contains(&name))
        else {
            errors.add(
                format!("parameterValues.{name}"),
                format!("is not a parameter of {}", control.label),
            );
            continue;
        };
        let text = value.as_str().unwrap_or_default();
        if !param.choices.is_empty() {
            let picked: Vec<&str> = text
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let many = param.how_many.as_deref() == Some("one-or-more");
            let valid = !picked.is_empty()
                && (many || picked.len() == 1)
                && picked.iter().all(|p| param.choices.iter().any(|c| c == p));
            if !valid {
                errors.add(
                    format!("parameterValues.{name}"),
                    format!(
                        "must be {} of: {}",
                        if many {
                            "one or more (separated by ;)"
                        } else {
                            "one"
                        },
                        param.choices.join("; ")
                    ),
                );
                continue;
            }
        }
        normalised.insert(param.id.clone(), value);
    }
    data.insert("parameterValues".into(), Value::Object(normalised));
}

/// Every overlay of the organization by control id, in one read.
pub(crate) async fn overlays(
    tx: &mut dyn TenantTx,
    today: time::Date,
) -> ServiceResult<HashMap<String, Record>> {
    let mut q: ListQuery = parse_list_query(&CONTROL_OVERLAYS, &[], today, &[])?;
    q.limit = MAX_OVERLAYS;
    let rows = tx.list_records(CONTROL_OVERLAYS.name, &q).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            r.data
                .get("control")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .map(|c| (c, r))
        })
        .collect())
}

impl Service {
    /// The shared catalog.
    pub fn catalog(&self) -> ServiceResult<Arc<Catalog>> {
        match &self.catalog {
            Some(c) => Ok(c.clone()),
            None => Catalog::builtin()
                .map_err(|e| ServiceError::Internal(anyhow::anyhow!("loading the catalog: {e}"))),
        }
    }

    pub fn list_frameworks(&self, actor: &Actor) -> ServiceResult<Vec<FrameworkView>> {
        authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        Ok(catalog
            .frameworks()
            .iter()
            .map(|f| FrameworkView {
                id: f.id.clone(),
                title: f.title.clone(),
                control_count: f.controls.len(),
            })
            .collect())
    }

    pub async fn list_controls(
        &self,
        actor: &Actor,
        input: &crate::use_cases::ControlsQuery,
    ) -> ServiceResult<Page<ControlView>> {
        let permit = authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        let q = parse_control_query(&catalog, input)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let overlays = overlays(&mut *tx, self.clock.now().date()).await?;
        drop(tx);
        let coverage = self.evidence_coverage(actor).await?;
        let failing = match input.failing {
            // The posture's own list, so the dashboard's counts and this list agree.
            Some(wanted) => Some(
                self.posture(actor)
                    .await?
                    .failing
                    .into_iter()
                    .filter(|f| wanted.admits(f.severity.as_str()))
                    .map(|f| f.control)
                    .collect::<std::collections::HashSet<String>>(),
            ),
            None => None,
        };
        let framework = q.framework.as_deref().and_then(|f| catalog.framework(f));
        let start = q
            .after
            .as_deref()
            .and_then(|id| catalog.position(id))
            .map_or(0, |p| p + 1);
        let mut items = Vec::new();
        let mut next_cursor = None;
        for control in &catalog.controls()[start..] {
            let overlay = overlays.get(&control.id);
            let status = overlay
                .and_then(|o| o.data.get("implementationStatus"))
                .and_then(Value::as_str);
            let applicability = overlay
                .and_then(|o| o.data.get("applicability"))
                .and_then(Value::as_str)
                .unwrap_or("applicable");
            let keep = framework.is_none_or(|f| f.contains(&control.id))
                && q.family.as_deref().is_none_or(|f| control.family == f)
                && q.withdrawn.is_none_or(|w| control.withdrawn == w)
                && q.covered
                    .is_none_or(|c| (coverage.of(&control.id) > 0) == c)
                && failing.as_ref().is_none_or(|f| f.contains(&control.id))
                && q.applicability
                    .as_deref()
                    .is_none_or(|a| a == applicability)
                && q.status.as_deref().is_none_or(|s| {
                    if s == "unset" {
                        status.is_none()
                    } else {
                        status == Some(s)
                    }
                })
                && q.q.as_deref().is_none_or(|t| {
                    control.id.contains(t)
                        || control.label.to_lowercase().contains(t)
                        || control.title.to_lowercase().contains(t)
                        || control.statement.to_lowercase().contains(t)
                });
            if !keep {
                continue;
            }
            if items.len() == q.limit {
                next_cursor = items.last().map(|v: &ControlView| v.id.clone());
                break;
            }
            let mut view = control_view(&catalog, control, overlay);
            view.evidence = coverage.of(&control.id);
            items.push(view);
        }
        Ok(Page { items, next_cursor })
    }

    pub async fn get_control(&self, actor: &Actor, id: &str) -> ServiceResult<ControlView> {
        let permit = authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        let control = catalog.control(id).ok_or(ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let overlay = tx
            .get_record(CONTROL_OVERLAYS.name, overlay_record_id(&control.id))
            .await?;
        // The POAM items that name this control lead back to it.
        let params = [
            ("controls".to_owned(), control.id.clone()),
            ("limit".to_owned(), "100".to_owned()),
        ];
        let q = parse_list_query(
            &tater_domain::modules::POAM,
            &params,
            self.clock.now().date(),
            &[],
        )?;
        let text = |r: &Record, k: &str| r.data.get(k).and_then(Value::as_str).map(str::to_owned);
        let poams = tx
            .list_records(tater_domain::modules::POAM.name, &q)
            .await?
            .iter()
            .take(100)
            .map(|r| PoamRef {
                id: r.meta.id,
                title: text(r, "title"),
                status: text(r, "status"),
            })
            .collect();
        drop(tx);
        let mut view = control_view(&catalog, control, overlay.as_ref());
        view.poams = Some(poams);
        view.evidence = self.evidence_coverage(actor).await?.of(&control.id);
        Ok(view)
    }

    /// Creates or replaces the organization's overlay of a control. A `version` in the body
    /// must match the stored overlay's.
    pub async fn put_overlay(
        &self,
        actor: &Actor,
        id: &str,
        body: &Value,
    ) -> ServiceResult<ControlView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let catalog = self.catalog()?;
        let control = catalog.control(id).ok_or(ServiceError::NotFound)?;
        if control.withdrawn {
            return Err(ValidationErrors::single(
                "",
                format!("{} is withdrawn and cannot be tailored", control.label),
            )
            .into());
        }
        let mut body = body.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("control".into(), Value::String(control.id.clone()));
        }
        crate::records::upsert_singleton(
            self,
            actor,
            &permit,
            crate::records::Singleton {
                def: &CONTROL_OVERLAYS,
                record_id: overlay_record_id(&control.id),
                entity_id: &control.id,
            },
            &body,
            |data, errors| check_parameter_values(control, data, errors),
        )
        .await?;
        // The same representation as a read.
        self.get_control(actor, &control.id).await
    }

    /// Removes the organization's overlay; the control reads as the catalog has it again.
    pub async fn delete_overlay(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let catalog = self.catalog()?;
        let control = catalog.control(id).ok_or(ServiceError::NotFound)?;
        let record_id = overlay_record_id(&control.id);
        let mut tx = self.store.tenant(&permit).await?;
        let current = tx
            .get_record(CONTROL_OVERLAYS.name, record_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let audit = AuditDraft::new(
            actor,
            AuditAction::Delete,
            CONTROL_OVERLAYS.entity_type,
            &control.id,
            self.clock.now(),
        )
        .with_changes(Some(&Value::Object(current.data.clone())), None, &[]);
        tx.delete_record(
            CONTROL_OVERLAYS.name,
            record_id,
            current.meta.version,
            &audit,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Service {
    /// The check catalog.
    pub fn check_catalog(&self) -> ServiceResult<Arc<tater_catalog::CheckCatalog>> {
        match &self.checks {
            Some(c) => Ok(c.clone()),
            None => tater_catalog::CheckCatalog::builtin()
                .map_err(|e| ServiceError::Internal(anyhow::anyhow!("loading the checks: {e}"))),
        }
    }

    /// Every technical check, with the controls it gives evidence for.
    pub fn list_checks(&self, actor: &Actor) -> ServiceResult<Vec<CheckView>> {
        authorize(actor, Action::ReadChecks)?;
        let catalog = self.catalog()?;
        Ok(self
            .check_catalog()?
            .checks()
            .iter()
            .map(|c| CheckView {
                id: c.id.clone(),
                title: c.title.clone(),
                severity: c.severity,
                rationale: c.rationale.clone(),
                remediation: c.remediation.clone(),
                controls: c
                    .controls
                    .iter()
                    .map(|id| MappedControl {
                        id: id.clone(),
                        label: catalog.control(id).map(|k| k.label.clone()),
                    })
                    .collect(),
                platforms: c.platforms.clone(),
            })
            .collect())
    }
}
