//! Ending an organization (trust page: "within 30 days of contract termination we hard-delete
//! tenant data from primary storage"). A SuperAdmin terminates it: from that moment the store
//! opens its data to nothing but its OrgAdmins' full export, so every credential, session,
//! agent, MCP and AI call — and every queued job — is refused (`ORG_TERMINATED`). After the
//! grace period the sweep deletes every row and file of it and signs a deletion certificate
//! with the platform key, kept outside the tenant.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, Org, OrgId, Termination, Timestamp};
use tater_store::{Mode, StoredCertificate};

use crate::{Service, ServiceError, ServiceResult};

/// The longest grace period: the trust page's 30 days.
pub const MAX_GRACE_DAYS: u32 = 30;
/// Organizations deleted per sweep (each is one transaction; the next sweep takes the rest).
const DELETIONS_PER_SWEEP: u32 = 10;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// How organizations end.
#[derive(Clone)]
pub struct LifecycleConfig {
    /// Days a terminated organization's data is kept (its export stays available) before it
    /// is deleted; 0 deletes at the next sweep.
    pub termination_grace_days: u32,
    /// Signs deletion certificates; without it nothing is deleted.
    pub platform_key: Option<Arc<tater_audit::PlatformKey>>,
    /// The bounds of the retention periods organizations choose.
    pub retention: crate::RetentionBounds,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            termination_grace_days: MAX_GRACE_DAYS,
            platform_key: None,
            retention: crate::RetentionBounds::default(),
        }
    }
}

/// A signed deletion certificate: `payload` is the canonical JSON that was signed, exactly
/// (write it to a file byte for byte to check the signature with `openssl pkeyutl -verify
/// -pubin -inkey <the key at /.well-known/tater-signing-key> -rawin`).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionCertificateView {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub deleted_at: Timestamp,
    /// The certificate (organization, rows deleted per table, files deleted, time) as
    /// canonical JSON: keys sorted, no whitespace.
    pub payload: String,
    /// Ed25519 signature of `payload`, base64.
    pub signature: String,
    /// Which platform key signed it.
    pub key_id: String,
}

impl DeletionCertificateView {
    fn of(c: StoredCertificate) -> Self {
        Self {
            organization_id: c.org,
            organization_name: c.org_name,
            deleted_at: c.deleted_at,
            payload: c.payload,
            signature: c.signature,
            key_id: c.key_id,
        }
    }
}

/// Refuses what enters a terminated organization without opening its data: enrolling an
/// endpoint, joining through an invitation.
pub(crate) async fn ensure_open(
    tx: &mut dyn tater_store::IdentityTx,
    org: OrgId,
) -> ServiceResult<()> {
    match tx.org(org).await? {
        Some(found) if found.termination.is_some() => {
            Err(tater_store::StoreError::OrgTerminated.into())
        }
        _ => Ok(()),
    }
}

fn org_id(id: &str) -> ServiceResult<OrgId> {
    id.trim().parse().map_err(|_| ServiceError::NotFound)
}

fn status_change(before: Option<Termination>, after: Option<Termination>) -> serde_json::Value {
    let side = |t: Option<Termination>| match t {
        Some(t) => json!({ "status": "terminated", "deleteAfter": t.delete_after.to_string() }),
        None => json!({ "status": "active" }),
    };
    json!({ "before": side(before), "after": side(after) })
}

impl Service {
    /// Terminates an organization: closed to every credential at once, deleted after the
    /// grace period.
    pub async fn cross_org_terminate_organization(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<crate::OrgView> {
        authorize(actor, Action::CrossOrg)?;
        let org = org_id(id)?;
        if org == actor.org() {
            return Err(ServiceError::ConflictCode(
                "OWN_ORGANIZATION",
                "you cannot terminate the organization you are acting in; act from another".into(),
            ));
        }
        self.set_termination(actor, org, Some(self.termination_from_now()))
            .await
    }

    /// A termination starting now, ending with the configured grace.
    fn termination_from_now(&self) -> Termination {
        let now = self.clock.now();
        let grace = i64::from(self.lifecycle.termination_grace_days.min(MAX_GRACE_DAYS));
        Termination {
            at: now,
            delete_after: Timestamp::from_millis(now.millis() + grace * DAY_MS),
        }
    }

    /// `tater admin org terminate` / `cancel-termination`: the same, by the operator.
    pub async fn admin_set_termination(
        &self,
        op: &crate::SystemOperator,
        org: &crate::AdminOrgRef<'_>,
        terminate: bool,
    ) -> ServiceResult<crate::OrgView> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let found = Self::find_org(&mut *tx, org).await?;
        tx.commit().await?;
        let termination = terminate.then(|| self.termination_from_now());
        self.set_termination(&op.actor(found.id), found.id, termination)
            .await
    }

    /// Lifts a termination during its grace period: the organization works again as before.
    pub async fn cross_org_cancel_termination(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<crate::OrgView> {
        authorize(actor, Action::CrossOrg)?;
        self.set_termination(actor, org_id(id)?, None).await
    }

    async fn set_termination(
        &self,
        actor: &Actor,
        org: OrgId,
        termination: Option<Termination>,
    ) -> ServiceResult<crate::OrgView> {
        let mut tx = self.store.identity(Mode::Write).await?;
        let Some(current) = tx.org(org).await? else {
            return Err(ServiceError::NotFound);
        };
        match (current.termination, termination) {
            (Some(_), Some(_)) => {
                return Err(ServiceError::ConflictCode(
                    "ALREADY_TERMINATED",
                    "this organization is already terminated".into(),
                ));
            }
            (None, None) => {
                return Err(ServiceError::ConflictCode(
                    "NOT_TERMINATED",
                    "this organization is not terminated".into(),
                ));
            }
            _ => {}
        }
        let now = self.clock.now();
        let mut audit = AuditDraft::new(actor, AuditAction::Update, "organization", org, now);
        audit.changes = json!({ "status": status_change(current.termination, termination) });
        let pair = termination.map(|t| (t.at, t.delete_after));
        tx.set_org_termination(org, pair, &audit).await?;
        let updated = tx.org(org).await?.ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        tracing::warn!(org = %org, terminated = termination.is_some(), "organization termination changed");
        Ok(crate::OrgView::of(&updated))
    }

    /// The signed certificate of a deleted organization.
    pub async fn cross_org_deletion_certificate(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<DeletionCertificateView> {
        authorize(actor, Action::CrossOrg)?;
        let org = org_id(id)?;
        let mut tx = self.store.identity(Mode::Read).await?;
        let cert = tx.deletion_certificate(org).await?;
        let exists = tx.org(org).await?.is_some();
        tx.commit().await?;
        match cert {
            Some(cert) => Ok(DeletionCertificateView::of(cert)),
            None if exists => Err(ServiceError::ConflictCode(
                "NOT_DELETED",
                "this organization has not been deleted (yet); its certificate is written when \
                 the sweep deletes it after the grace period"
                    .into(),
            )),
            None => Err(ServiceError::NotFound),
        }
    }

    /// The public half of the platform key (PEM), if this server has one.
    pub fn platform_public_key(&self) -> Option<String> {
        self.lifecycle.platform_key.as_ref().map(|k| k.public_pem())
    }

    /// Deletes the terminated organizations whose grace has ended: their files, then every
    /// row in one transaction with the signed certificate, then scrubs the database files.
    pub async fn delete_terminated_organizations(
        &self,
    ) -> ServiceResult<Vec<DeletionCertificateView>> {
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Read).await?;
        let due = tx.orgs_due_for_deletion(now, DELETIONS_PER_SWEEP).await?;
        tx.commit().await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let Some(key) = self.lifecycle.platform_key.clone() else {
            tracing::error!(
                due = due.len(),
                "terminated organizations are due for deletion, but this process has no \
                 platform signing key to certify it; nothing deleted"
            );
            return Ok(Vec::new());
        };
        let mut certificates = Vec::new();
        for org in due {
            match self.delete_organization(&org, &key).await {
                Ok(cert) => certificates.push(cert),
                // Another replica's sweep deleted it a moment ago.
                Err(ServiceError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        self.store.scrub().await?;
        Ok(certificates)
    }

    async fn delete_organization(
        &self,
        org: &Org,
        key: &tater_audit::PlatformKey,
    ) -> ServiceResult<DeletionCertificateView> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let digests = tx.org_file_digests(org.id).await?;
        tx.commit().await?;
        // Files first: should the rows' deletion fail, the sweep runs again; bytes left
        // behind by a deleted row would be found by nothing.
        let mut files = 0u64;
        if !digests.is_empty() && self.files.store.is_none() {
            // Deleting the rows would orphan the bytes for ever (nothing would point at them).
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "organization {} holds {} files, but this process has no file store to delete \
                 them from; run the deletion where the server's file store is configured",
                org.id,
                digests.len()
            )));
        }
        if let Some(blobs) = self.files.store.as_ref() {
            for sha in &digests {
                blobs
                    .delete(&crate::evidence_files::blob_key(org.id, sha))
                    .await
                    .map_err(|e| ServiceError::Internal(e.into()))?;
                files += 1;
            }
        }
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let deletion = tx.delete_org(org.id).await?;
        let rows: serde_json::Map<String, serde_json::Value> = deletion
            .rows
            .iter()
            .map(|(table, n)| (table.clone(), json!(n)))
            .collect();
        let certificate = json!({
            "type": "tater-deletion-certificate",
            "version": 1,
            "organization": { "id": org.id.to_string(), "name": org.name },
            "terminatedAt": org.termination.map(|t| t.at.to_string()),
            "deletedAt": now.to_string(),
            "rowsDeleted": rows,
            "rowsDeletedTotal": deletion.rows.iter().map(|(_, n)| n).sum::<u64>(),
            "filesDeleted": files,
            "keyId": key.key_id(),
        });
        let payload = tater_audit::seal::canonical_json(&certificate);
        let stored = StoredCertificate {
            org: org.id,
            org_name: org.name.clone(),
            signature: base64::engine::general_purpose::STANDARD
                .encode(key.sign(payload.as_bytes())),
            payload,
            key_id: key.key_id(),
            deleted_at: now,
        };
        tx.insert_deletion_certificate(&stored).await?;
        tx.commit().await?;
        tracing::warn!(org = %org.id, files, "organization deleted; certificate written");
        Ok(DeletionCertificateView::of(stored))
    }
}
