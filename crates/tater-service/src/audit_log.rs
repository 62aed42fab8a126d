//! Reading the audit log (SPEC L3).

use serde_json::{Value, json};
use tater_domain::module::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditEntry, TenantScope, Timestamp, ValidationErrors};
use tater_store::{AuditQuery, Mode};

use crate::{Page, Service, ServiceResult};

/// An entry as the API returns it.
pub fn audit_entry_view(e: &AuditEntry) -> Value {
    let d = &e.draft;
    json!({
        "id": d.id,
        "tenantId": e.tenant_id,
        "seq": e.seq,
        "action": d.action,
        "entityType": d.entity_type,
        "entityId": d.entity_id,
        "userId": d.user_id,
        "upn": d.upn,
        "oid": d.oid,
        "timestamp": d.timestamp,
        "via": d.via,
        "changes": d.changes,
    })
}

const MAX_FILTER_LEN: usize = 200;

/// Parses `via`, `userId`, `entityType`, `entityId`, `action`, `from`, `to`, `limit`, `cursor`.
pub fn parse_audit_query(params: &[(String, String)]) -> Result<AuditQuery, ValidationErrors> {
    let mut q = AuditQuery {
        limit: DEFAULT_PAGE_SIZE,
        ..Default::default()
    };
    let mut errors = ValidationErrors::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in params {
        if seen.contains(&key.as_str()) {
            errors.add(key.as_str(), "is given more than once");
            continue;
        }
        seen.push(key);
        let text = || -> Result<String, String> {
            let v = value.trim();
            if v.is_empty() || v.chars().count() > MAX_FILTER_LEN {
                Err(format!("must be 1 to {MAX_FILTER_LEN} characters"))
            } else {
                Ok(v.to_owned())
            }
        };
        let result: Result<(), String> = match key.as_str() {
            "via" => value
                .parse()
                .map(|v| q.via = Some(v))
                .map_err(|e: tater_domain::channel::UnknownChannel| e.to_string()),
            "action" => value
                .parse()
                .map(|v| q.action = Some(v))
                .map_err(|e: tater_domain::audit::UnknownAction| e.to_string()),
            "userId" => text().map(|v| q.user_id = Some(v)),
            "entityType" => text().map(|v| q.entity_type = Some(v)),
            "entityId" => text().map(|v| q.entity_id = Some(v)),
            "from" => Timestamp::parse(value)
                .map(|t| q.from = Some(t))
                .map_err(|e| e.to_string()),
            "to" => Timestamp::parse(value)
                .map(|t| q.to = Some(t))
                .map_err(|e| e.to_string()),
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => {
                    q.limit = n;
                    Ok(())
                }
                _ => Err(format!("must be a whole number from 1 to {MAX_PAGE_SIZE}")),
            },
            "cursor" => match value.parse::<i64>() {
                Ok(n) if n > 0 => {
                    q.before_seq = Some(n);
                    Ok(())
                }
                _ => Err("is not a cursor this server issued".into()),
            },
            _ => Err("unknown parameter".into()),
        };
        if let Err(message) = result {
            errors.add(key.as_str(), message);
        }
    }
    errors.into_result(q)
}

impl Service {
    /// The active organization's audit log, newest first. Auditor and above.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> ServiceResult<Page> {
        authorize(actor, Action::ReadAudit)?;
        let q = parse_audit_query(params)?;
        let mut tx = self
            .store
            .tenant(&TenantScope::of(actor), Mode::Read)
            .await?;
        let mut rows = tx.list_audit(&q).await?;
        let more = rows.len() > q.limit as usize;
        rows.truncate(q.limit as usize);
        let next_cursor = if more {
            rows.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(Page {
            items: rows.iter().map(audit_entry_view).collect(),
            next_cursor,
        })
    }
}
