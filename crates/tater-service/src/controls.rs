//! The control catalog as each organization sees it: the shared, read-only catalog merged with
//! the organization's overlays (SPEC D1). Reads say where every field came from.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tater_catalog::{Catalog, Control};
use tater_domain::module::{ListQuery, Record, parse_list_query};
use tater_domain::modules::{CONTROL_OVERLAYS, overlay_record_id};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, ValidationErrors};
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

/// The control merged with the organization's overlay; `provenance` names the origin of each
/// field: `catalog`, `organization`, `default` (a value nobody set) or `unset`.
pub fn control_view(catalog: &Catalog, control: &Control, overlay: Option<&Record>) -> Value {
    let data = overlay.map(|o| &o.data);
    let get = |k: &str| {
        data.and_then(|d| d.get(k))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let nonempty = |v: &Value| match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Null => false,
        _ => true,
    };
    let values = get("parameterValues")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let params: Vec<Value> = control
        .params
        .iter()
        .map(|p| {
            let value = values.get(&p.id).cloned();
            json!({
                "id": p.id, "altIds": p.alt_ids, "label": p.label, "guidelines": p.guidelines,
                "choices": p.choices, "howMany": p.how_many,
                "value": value, "valueSource": if value.is_some() { "organization" } else { "catalog" },
            })
        })
        .collect();
    let mut provenance = Map::new();
    for k in [
        "label",
        "title",
        "family",
        "statement",
        "guidance",
        "params",
        "withdrawn",
    ] {
        provenance.insert(k.into(), json!("catalog"));
    }
    let mut out = json!({
        "id": control.id, "label": control.label, "title": control.title,
        "family": control.family, "familyTitle": control.family_title, "parent": control.parent,
        "withdrawn": control.withdrawn, "statement": control.statement, "guidance": control.guidance,
        "source": &*control.source, "frameworks": catalog.frameworks_of(&control.id), "params": params,
    });
    for field in [
        "applicability",
        "implementationStatus",
        "justification",
        "narrative",
        "responsibleRoles",
        "owner",
        "notes",
    ] {
        let value = get(field).filter(nonempty);
        let origin = match (&value, field) {
            (Some(_), _) => "organization",
            (None, "applicability") => "default",
            (None, _) => "unset",
        };
        let shown = match (value, field) {
            (Some(v), _) => v,
            (None, "applicability") => json!("applicable"),
            (None, "responsibleRoles") => json!([]),
            (None, _) => Value::Null,
        };
        out[field] = shown;
        provenance.insert(field.into(), json!(origin));
    }
    provenance.insert(
        "parameterValues".into(),
        json!(if values.is_empty() {
            "catalog"
        } else {
            "organization"
        }),
    );
    out["provenance"] = Value::Object(provenance);
    out["overlay"] = match overlay {
        Some(o) => {
            json!({ "version": o.meta.version, "updatedAt": o.meta.updated_at, "updatedBy": o.meta.updated_by, "createdAt": o.meta.created_at })
        }
        None => Value::Null,
    };
    out
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
    ) -> ServiceResult<Page> {
        let permit = authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        let q = parse_control_query(&catalog, input)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let overlays = overlays(&mut *tx, self.clock.now().date()).await?;
        drop(tx);
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
                next_cursor = items
                    .last()
                    .and_then(|v: &Value| v["id"].as_str())
                    .map(str::to_owned);
                break;
            }
            items.push(control_view(&catalog, control, overlay));
        }
        Ok(Page { items, next_cursor })
    }

    pub async fn get_control(&self, actor: &Actor, id: &str) -> ServiceResult<Value> {
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
        let poams: Vec<Value> = tx
            .list_records(tater_domain::modules::POAM.name, &q)
            .await?
            .iter()
            .take(100)
            .map(|r| json!({ "id": r.meta.id, "title": r.data.get("title"), "status": r.data.get("status") }))
            .collect();
        let mut view = control_view(&catalog, control, overlay.as_ref());
        view["poams"] = Value::Array(poams);
        Ok(view)
    }

    /// Creates or replaces the organization's overlay of a control. A `version` in the body
    /// must match the stored overlay's.
    pub async fn put_overlay(&self, actor: &Actor, id: &str, body: &Value) -> ServiceResult<Value> {
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
