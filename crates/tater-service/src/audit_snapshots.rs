//! Audit snapshots: the control results, overlays and evidence list of an audit's scope,
//! frozen at a moment. A snapshot is never changed: it is stored as the JSON text its SHA-256
//! is of, the audit entry that records it carries the hash, and every read checks the text
//! against it. It goes only with its audit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tater_domain::modules::{AUDITS, CONTROL_OVERLAYS, EVIDENCE};
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, AuditSnapshot, RecordId, SnapshotId, Timestamp,
};
use tater_store::TenantTx;

use crate::posture::{Tally, grouped};
use crate::records::parse_id;
use crate::reminders::text;
pub(crate) use crate::secrets::sha256_hex;
use crate::{Items, Service, ServiceError, ServiceResult};

/// The most snapshots one audit keeps: each is a full copy of its scope.
pub const MAX_SNAPSHOTS: u32 = 50;
/// The most evidence records a snapshot lists, and the most bytes its overlays and evidence
/// may take together: a larger scope is refused rather than cut, and no request holds more.
pub const MAX_SNAPSHOT_EVIDENCE: usize = 5_000;
pub const MAX_SNAPSHOT_BYTES: usize = 16 * 1024 * 1024;
/// The audit entity type of a snapshot (its creation entry carries its SHA-256).
pub const SNAPSHOT_ENTITY: &str = "audit-snapshot";
/// What a snapshot's body says it is, so readers can tell versions apart.
const FORMAT: &str = "tater-audit-snapshot/1";

/// A snapshot as clients see it: `body` only when one is read.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotView {
    pub id: String,
    /// The audit it belongs to.
    pub audit: String,
    pub taken_at: Timestamp,
    /// Audit `userId` of whoever took it.
    pub taken_by: String,
    /// Lowercase hex SHA-256 of the body as stored (its compact JSON text); the audit entry
    /// that recorded the snapshot carries the same hash.
    pub sha256: String,
    /// The frozen scope: `audit`, `posture`, `controls` (each with its results, overlay and
    /// evidence ids) and `evidence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

pub(crate) fn snapshot_view(s: &AuditSnapshot) -> SnapshotView {
    SnapshotView {
        id: s.id.to_string(),
        audit: s.audit.to_string(),
        taken_at: s.taken_at,
        taken_by: s.taken_by.clone(),
        sha256: s.sha256.clone(),
        body: s.body.clone(),
    }
}

/// The strings of a list field (control ids), as a set.
fn strings(data: &Map<String, Value>, field: &str) -> BTreeSet<String> {
    data.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The audit record, or `NotFound` (another organization's reads as unknown).
pub(crate) async fn audit_record(
    tx: &mut dyn TenantTx,
    id: RecordId,
) -> ServiceResult<tater_domain::module::Record> {
    tx.get_record(AUDITS.name, id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// A snapshot read back: its body parsed, the text its hash is of, and the sealed audit
/// entry that recorded it (whose SHA-256 the text matched).
pub(crate) struct StoredSnapshot {
    pub snapshot: AuditSnapshot,
    pub text: String,
    pub recorded: tater_domain::AuditEntry,
}

/// A stored snapshot of `audit` with its body. The text must match the SHA-256 kept with it
/// and the one its creation entry in the hash-chained audit log carries: a row edited behind
/// the application's back fails the second check even when its own hash was edited too.
pub(crate) async fn stored_snapshot(
    tx: &mut dyn TenantTx,
    audit: RecordId,
    id: SnapshotId,
) -> ServiceResult<StoredSnapshot> {
    let (mut snapshot, text) = tx
        .audit_snapshot(id)
        .await?
        .filter(|(s, _)| s.audit == audit)
        .ok_or(ServiceError::NotFound)?;
    let query = tater_store::AuditQuery {
        entity_type: Some(SNAPSHOT_ENTITY.into()),
        entity_id: Some(id.to_string()),
        action: Some(AuditAction::Create),
        limit: 1,
        ..Default::default()
    };
    let recorded = tx.list_audit(&query).await?.into_iter().next();
    let sha = sha256_hex(text.as_bytes());
    let vouched = recorded
        .as_ref()
        .and_then(|e| e.draft.changes.pointer("/sha256/after"))
        .and_then(Value::as_str);
    let intact = sha == snapshot.sha256 && vouched == Some(sha.as_str());
    let (Some(recorded), true) = (recorded.clone(), intact) else {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "snapshot {id} no longer matches the SHA-256 its audit entry recorded: \
             the stored copy was altered"
        )));
    };
    let body = serde_json::from_str(&text).map_err(|e| ServiceError::Internal(e.into()))?;
    snapshot.body = Some(body);
    Ok(StoredSnapshot {
        snapshot,
        text,
        recorded,
    })
}

/// What an audit holds that goes with it: its snapshots, and its auditor tokens still in use.
pub(crate) async fn held_by_audit(
    tx: &mut dyn TenantTx,
    id: RecordId,
    now: Timestamp,
) -> ServiceResult<(usize, usize)> {
    let snapshots = tx.audit_snapshots(id, MAX_SNAPSHOTS).await?.len();
    let tokens = tx.auditor_tokens(id).await?;
    Ok((snapshots, tokens.iter().filter(|t| t.usable(now)).count()))
}

/// What a snapshot and an auditor show of the audit record: what it is, not who edited it
/// when.
pub(crate) fn audit_summary(record: &tater_domain::module::Record) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(record.meta.id.to_string()));
    for name in [
        "title",
        "framework",
        "periodStart",
        "periodEnd",
        "status",
        "leadAuditor",
        "auditingBody",
        "scope",
        "scopeNotes",
    ] {
        out.insert(
            name.into(),
            record.data.get(name).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

impl Service {
    /// Freezes the audit's scope as it stands now (Admin and above).
    pub async fn take_snapshot(&self, actor: &Actor, audit: &str) -> ServiceResult<SnapshotView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let audit_id: RecordId = parse_id(audit)?;
        let record = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            audit_record(&mut *tx, audit_id).await?
        };
        let now = self.clock.now();
        let body = self.scope_now(actor, &permit, &record, now).await?;
        let text = serde_json::to_string(&body).map_err(|e| ServiceError::Internal(e.into()))?;
        let snapshot = AuditSnapshot {
            id: SnapshotId::generate(),
            audit: audit_id,
            taken_at: now,
            taken_by: actor.audit_user_id(),
            sha256: sha256_hex(text.as_bytes()),
            body: None,
        };
        let count = |key: &str| body.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        let after = json!({
            "audit": audit_id.to_string(),
            "sha256": snapshot.sha256,
            "controls": count("controls"),
            "evidence": count("evidence"),
        });
        let entry = AuditDraft::new(
            actor,
            AuditAction::Create,
            SNAPSHOT_ENTITY,
            snapshot.id,
            now,
        )
        .with_changes(None, Some(&after), &[]);
        let mut tx = self.store.tenant(&permit).await?;
        // Re-read under the write transaction: the audit may have gone meanwhile.
        audit_record(&mut *tx, audit_id).await?;
        let kept = tx.audit_snapshots(audit_id, MAX_SNAPSHOTS).await?;
        if kept.len() >= MAX_SNAPSHOTS as usize {
            return Err(ServiceError::ConflictCode(
                "TOO_MANY_SNAPSHOTS",
                format!("this audit keeps {MAX_SNAPSHOTS} snapshots, the most it may"),
            ));
        }
        tx.insert_audit_snapshot(&snapshot, &text, &entry).await?;
        tx.commit().await?;
        Ok(snapshot_view(&snapshot))
    }

    /// The audit's snapshots, newest first, without their bodies.
    pub async fn list_snapshots(
        &self,
        actor: &Actor,
        audit: &str,
    ) -> ServiceResult<Items<SnapshotView>> {
        let permit = authorize(actor, Action::ReadRecords(AUDITS.read_role))?;
        let audit_id: RecordId = parse_id(audit)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        audit_record(&mut *tx, audit_id).await?;
        let items = tx.audit_snapshots(audit_id, MAX_SNAPSHOTS).await?;
        Ok(Items {
            items: items.iter().map(snapshot_view).collect(),
        })
    }

    /// One snapshot with its body, checked against its hash.
    pub async fn get_snapshot(
        &self,
        actor: &Actor,
        audit: &str,
        snapshot: &str,
    ) -> ServiceResult<SnapshotView> {
        let permit = authorize(actor, Action::ReadRecords(AUDITS.read_role))?;
        let (audit_id, id) = (parse_id(audit)?, parse_id(snapshot)?);
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let stored = stored_snapshot(&mut *tx, audit_id, id).await?;
        Ok(snapshot_view(&stored.snapshot))
    }

    /// The body of a new snapshot of `audit`: its controls in scope (every control when it
    /// names none) with their results now, their overlays and the evidence that names them
    /// or is linked to them.
    async fn scope_now(
        &self,
        actor: &Actor,
        permit: &Permit,
        audit: &tater_domain::module::Record,
        now: Timestamp,
    ) -> ServiceResult<Value> {
        let catalog = self.catalog()?;
        let checks = self.check_catalog()?;
        let named = strings(&audit.data, "scope");
        let in_scope = |c: &str| named.is_empty() || named.contains(c);
        let computed = self.compute_posture(permit).await?;
        let per_control = grouped(&checks, &computed, |c| {
            catalog
                .control(c)
                .filter(|k| in_scope(&k.id))
                .map(|k| k.id.as_str())
        });
        let whole = grouped(&checks, &computed, |c| in_scope(c).then_some("scope"))
            .remove("scope")
            .unwrap_or_default();
        let mut budget = MAX_SNAPSHOT_BYTES;
        let overlays = self.overlays_in(actor, &in_scope, &mut budget).await?;
        let evidence = self
            .evidence_in(actor, permit, &in_scope, &mut budget)
            .await?;
        let mut evidence_of: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in &evidence {
            let id = text(e, "id").unwrap_or_default();
            for c in e
                .get("controls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = c.as_str() {
                    evidence_of.entry(c).or_default().push(id);
                }
            }
        }
        let controls: Vec<Value> = catalog
            .controls()
            .iter()
            .filter(|c| !c.withdrawn && in_scope(&c.id))
            .map(|c| {
                json!({
                    "id": c.id,
                    "label": c.label,
                    "title": c.title,
                    "family": c.family,
                    "results": per_control.get(c.id.as_str()).map(Tally::summary),
                    "overlay": overlays.get(&c.id),
                    "evidence": evidence_of.get(c.id.as_str()).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let mut frozen_audit = audit_summary(audit);
        frozen_audit["version"] = json!(audit.meta.version);
        Ok(json!({
            "format": FORMAT,
            "takenAt": now,
            "takenBy": actor.audit_upn(),
            "audit": frozen_audit,
            "posture": whole.summary(),
            "controls": controls,
            "evidence": evidence,
        }))
    }

    /// The organization's overlays of controls in scope, by control id.
    async fn overlays_in(
        &self,
        actor: &Actor,
        in_scope: &(dyn Fn(&str) -> bool + Sync),
        budget: &mut usize,
    ) -> ServiceResult<BTreeMap<String, Map<String, Value>>> {
        let query = self.list_query(&CONTROL_OVERLAYS, &[], &[])?;
        let mut export = self.export_records(actor, &CONTROL_OVERLAYS, query)?;
        let mut out = BTreeMap::new();
        while let Some(page) = export.next_page().await? {
            for view in page {
                let Value::Object(mut data) = view else {
                    continue;
                };
                let Some(control) = text(&data, "control").map(str::to_owned) else {
                    continue;
                };
                if in_scope(&control) {
                    data.remove("control");
                    frozen(&mut data, budget)?;
                    out.insert(control, data);
                }
            }
        }
        Ok(out)
    }

    /// Evidence records that name a control in scope or are linked to one, each with every
    /// control it supports that is in scope.
    async fn evidence_in(
        &self,
        actor: &Actor,
        permit: &Permit,
        in_scope: &(dyn Fn(&str) -> bool + Sync),
        budget: &mut usize,
    ) -> ServiceResult<Vec<Map<String, Value>>> {
        let mut linked: HashMap<String, BTreeSet<String>> = HashMap::new();
        {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            let cap = MAX_SNAPSHOT_EVIDENCE * 4;
            let asked = u32::try_from(cap + 1).unwrap_or(u32::MAX);
            let pairs = tx.control_links_of(EVIDENCE.name, asked).await?;
            if pairs.len() > cap {
                return Err(too_large());
            }
            for (id, control) in pairs {
                linked.entry(id.to_string()).or_default().insert(control);
            }
        }
        let query = self.list_query(&EVIDENCE, &[], &[])?;
        let mut export = self.export_records(actor, &EVIDENCE, query)?;
        let mut out = Vec::new();
        while let Some(page) = export.next_page().await? {
            for view in page {
                let Value::Object(mut e) = view else {
                    continue;
                };
                let id = text(&e, "id").unwrap_or_default().to_owned();
                let mut controls = strings(&e, "controls");
                controls.extend(linked.remove(&id).unwrap_or_default());
                controls.retain(|c| in_scope(c));
                if controls.is_empty() {
                    continue;
                }
                if out.len() == MAX_SNAPSHOT_EVIDENCE {
                    return Err(too_large());
                }
                frozen(&mut e, budget)?;
                e.insert("controls".into(), json!(controls));
                out.push(e);
            }
        }
        Ok(out)
    }
}

fn too_large() -> ServiceError {
    ServiceError::ConflictCode(
        "SNAPSHOT_TOO_LARGE",
        format!(
            "the audit's scope holds more than {MAX_SNAPSHOT_EVIDENCE} evidence records or {} MiB \
             of overlays and evidence; narrow its scope (the controls it names)",
            MAX_SNAPSHOT_BYTES / (1024 * 1024)
        ),
    )
}

/// A record as a snapshot keeps it: what it says, not which member edited it (a snapshot is
/// shown to outside auditors), counted against what the snapshot may hold.
fn frozen(data: &mut Map<String, Value>, budget: &mut usize) -> ServiceResult<()> {
    data.remove("createdBy");
    data.remove("updatedBy");
    let size = serde_json::to_string(data).map_or(0, |t| t.len());
    *budget = budget.checked_sub(size).ok_or_else(too_large)?;
    Ok(())
}

/// Every snapshot of the organization, one page each (with its body, checked), for the
/// whole-organization export: one snapshot in memory at a time.
pub(crate) struct SnapshotExport {
    service: Service,
    permit: Permit,
    /// Snapshots still to read, as `(audit, snapshot)`.
    queue: Vec<(RecordId, SnapshotId)>,
}

impl SnapshotExport {
    pub(crate) async fn new(service: &Service, actor: &Actor) -> ServiceResult<Self> {
        let permit = authorize(actor, Action::ExportAll)?;
        let mut queue = Vec::new();
        let ids = service.all_record_ids(actor, &AUDITS).await?;
        let mut tx = service.store.tenant(&permit.read_only()).await?;
        for id in ids {
            for s in tx.audit_snapshots(id, MAX_SNAPSHOTS).await? {
                queue.push((id, s.id));
            }
        }
        queue.reverse();
        Ok(Self {
            service: service.clone(),
            permit,
            queue,
        })
    }

    async fn next(&mut self) -> ServiceResult<Option<Vec<Value>>> {
        let Some((audit, id)) = self.queue.pop() else {
            return Ok(None);
        };
        let mut tx = self.service.store.tenant(&self.permit.read_only()).await?;
        let stored = stored_snapshot(&mut *tx, audit, id).await?;
        let view = serde_json::to_value(snapshot_view(&stored.snapshot))
            .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok(Some(vec![view]))
    }
}

impl crate::list_export::PagedSource for SnapshotExport {
    fn next_page(&mut self) -> crate::list_export::NextPage<'_> {
        Box::pin(self.next())
    }
}
