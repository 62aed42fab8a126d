//! What a move does besides changing a status ([`Effect`]): carried out in the move's
//! transaction, each change validated as a client's would be and audited as the mover's.

use serde_json::{Value, json};
use tater_domain::module::{Effect, ModuleDef, Record, parse_list_query, validate};
use tater_domain::modules::RISK_ACCEPTANCES;
use tater_domain::{Actor, AuditAction, AuditDraft, RecordId, Timestamp};
use tater_store::TenantTx;

use crate::records::{check_references, new_record, next_version};
use crate::{Service, ServiceResult};

/// A record the effect made or changed: the move's audit entry names them.
pub(crate) struct Touched {
    pub module: &'static str,
    pub id: RecordId,
}

impl Service {
    pub(crate) async fn apply_effect(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        effect: Effect,
        source: &Record,
        comment: Option<&str>,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        match effect {
            Effect::AcceptRisk => self.accept_risk(tx, actor, source, now).await,
            Effect::EndAcceptances => self.end_acceptances(tx, actor, source, comment, now).await,
        }
    }

    /// One acceptance per named endpoint, or one organization-wide, until the exception's end.
    async fn accept_risk(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        exception: &Record,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        let text = |name: &str| exception.data.get(name).cloned().unwrap_or(Value::Null);
        let endpoints: Vec<Value> = match exception.data.get("endpoints") {
            Some(Value::Array(ids)) if !ids.is_empty() => ids.clone(),
            _ => vec![Value::Null],
        };
        let mut made = Vec::new();
        for endpoint in endpoints {
            let body = json!({
                "control": text("control"),
                "endpoint": endpoint,
                "justification": text("justification"),
                "compensatingControls": text("compensatingControls"),
                "approvedBy": actor.audit_upn(),
                "expires": text("requestedUntil"),
                "exception": exception.meta.id.to_string(),
            });
            let data = validate(&RISK_ACCEPTANCES, &body, None, &self.rule_context())?;
            check_references(tx, &RISK_ACCEPTANCES, &data, None).await?;
            let record = new_record(RecordId::generate(), actor, data, now);
            let audit = created(actor, &RISK_ACCEPTANCES, &record, now);
            tx.insert_record(RISK_ACCEPTANCES.name, &record, &audit)
                .await?;
            made.push(Touched {
                module: RISK_ACCEPTANCES.name,
                id: record.meta.id,
            });
        }
        Ok(made)
    }

    /// The acceptances naming the exception that are still in force are revoked today.
    async fn end_acceptances(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        exception: &Record,
        comment: Option<&str>,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        let today = now.date();
        let query = parse_list_query(
            &RISK_ACCEPTANCES,
            &[
                ("exception".into(), exception.meta.id.to_string()),
                ("status".into(), "Active".into()),
                ("limit".into(), "500".into()),
            ],
            today,
            &[],
        )?;
        let mut ended = Vec::new();
        for current in tx.list_records(RISK_ACCEPTANCES.name, &query).await? {
            let mut data = current.data.clone();
            data.insert(
                "revokedOn".into(),
                Value::String(tater_domain::time::format_date(today)),
            );
            let reason = format!(
                "The exception ended: {}",
                comment.unwrap_or("no reason given")
            );
            data.insert(
                "revocationReason".into(),
                Value::String(reason.chars().take(4000).collect()),
            );
            let updated = next_version(&current, actor, data, now);
            let audit = AuditDraft::new(
                actor,
                AuditAction::Update,
                RISK_ACCEPTANCES.entity_type,
                current.meta.id,
                now,
            )
            .with_changes(
                Some(&Value::Object(current.data.clone())),
                Some(&Value::Object(updated.data.clone())),
                &[],
            );
            tx.update_record(
                RISK_ACCEPTANCES.name,
                &updated,
                current.meta.version,
                &audit,
            )
            .await?;
            ended.push(Touched {
                module: RISK_ACCEPTANCES.name,
                id: current.meta.id,
            });
        }
        Ok(ended)
    }
}

fn created(actor: &Actor, def: &ModuleDef, record: &Record, now: Timestamp) -> AuditDraft {
    let after = Value::Object(record.data.clone());
    AuditDraft::new(
        actor,
        AuditAction::Create,
        def.entity_type,
        record.meta.id,
        now,
    )
    .with_changes(None, Some(&after), &[])
}
