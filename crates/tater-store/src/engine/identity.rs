//! The cross-tenant identity transaction: organizations, users, credentials, enrollment, agent releases.

use std::sync::LazyLock;

use super::*;

pub(super) const RELEASE_COLUMNS: &str =
    "version, os, arch, kind, sha256, size, signature, published_at";

pub(super) fn release_from_row(r: &impl RowRead) -> Result<crate::AgentRelease> {
    Ok(crate::AgentRelease {
        key: crate::ReleaseKey {
            version: r.try_get("version")?,
            os: r.try_get("os")?,
            arch: r.try_get("arch")?,
            kind: r.try_get("kind")?,
        },
        sha256: r.try_get("sha256")?,
        size: r.try_get("size")?,
        signature: r.try_get("signature")?,
        published_at: ts(r, "published_at")?,
    })
}

/// Binds a release key as the next four parameters (version, os, arch, kind).
fn bind_key<'q, D: Driver>(q: D::Query<'q>, k: &'q crate::ReleaseKey) -> D::Query<'q> {
    q.bind(k.version.as_str())
        .bind(k.os.as_str())
        .bind(k.arch.as_str())
        .bind(k.kind.as_str())
}

const RELEASE_KEY_MATCHES: &str = "version = $1 AND os = $2 AND arch = $3 AND kind = $4";

/// A transaction on identity data.
pub struct EngineIdentityTx<D: Driver> {
    pub(crate) tx: D::Tx,
    pub(crate) audit: std::sync::Arc<AuditSettings>,
}

#[async_trait]
impl<D: Driver> IdentityTx for EngineIdentityTx<D> {
    async fn publish_release(&mut self, r: &crate::AgentRelease, content: &[u8]) -> Result<()> {
        bind_key::<D>(
            D::query(
                "INSERT INTO agent_releases (version, os, arch, kind, sha256, size, signature, published_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (version, os, arch, kind) DO UPDATE SET \
                 sha256 = excluded.sha256, size = excluded.size, signature = excluded.signature, \
                 published_at = excluded.published_at",
            ),
            &r.key,
        )
        .bind(&r.sha256)
        .bind(r.size)
        .bind(&r.signature)
        .bind(r.published_at.millis())
        .execute(&mut *self.tx)
        .await?;
        bind_key::<D>(
            D::query(&format!(
                "DELETE FROM agent_release_chunks WHERE {RELEASE_KEY_MATCHES}"
            )),
            &r.key,
        )
        .execute(&mut *self.tx)
        .await?;
        for (seq, chunk) in content.chunks(crate::RELEASE_CHUNK_BYTES).enumerate() {
            bind_key::<D>(
                D::query(
                    "INSERT INTO agent_release_chunks (version, os, arch, kind, seq, bytes) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                ),
                &r.key,
            )
            .bind(seq as i64)
            .bind(chunk)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn releases(&mut self) -> Result<Vec<crate::AgentRelease>> {
        let rows = D::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM agent_releases ORDER BY published_at"
        ))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(release_from_row).collect()
    }

    async fn release(&mut self, key: &crate::ReleaseKey) -> Result<Option<crate::AgentRelease>> {
        let sql =
            format!("SELECT {RELEASE_COLUMNS} FROM agent_releases WHERE {RELEASE_KEY_MATCHES}");
        let row = bind_key::<D>(D::query(&sql), key)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(release_from_row).transpose()
    }

    async fn release_chunk(
        &mut self,
        key: &crate::ReleaseKey,
        seq: i64,
    ) -> Result<Option<Vec<u8>>> {
        let sql = format!(
            "SELECT bytes FROM agent_release_chunks WHERE {RELEASE_KEY_MATCHES} AND seq = $5"
        );
        let row = bind_key::<D>(D::query(&sql), key)
            .bind(seq)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get("bytes")).transpose()?)
    }

    async fn orgs_with_pending_jobs(&mut self) -> Result<Vec<OrgId>> {
        let rows = D::query(
            "SELECT DISTINCT tenant_id FROM job_targets WHERE status = 'pending' \
             AND tenant_id NOT IN (SELECT id FROM organizations WHERE terminated_at IS NOT NULL) \
             ORDER BY tenant_id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| parse_col(r, "tenant_id")).collect()
    }

    async fn checkpoint_audit_heads(&mut self, now: Timestamp) -> Result<u64> {
        let rows = D::query(
            "SELECT h.tenant_id, h.last_seq, h.head_hash FROM audit_heads h \
             WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints c \
             WHERE c.tenant_id = h.tenant_id AND c.seq = h.last_seq)",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for row in &rows {
            let cp = tater_audit::Checkpoint::new(
                parse_col(row, "tenant_id")?,
                row.try_get("last_seq")?,
                &row.try_get::<String>("head_hash")?,
                now,
                &self.audit.keys,
            );
            insert_checkpoint::<D>(&mut *self.tx, &cp).await?;
        }
        Ok(rows.len() as u64)
    }

    async fn org(&mut self, id: OrgId) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1");
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn org_by_name(&mut self, name: &str) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE lower(name) = lower($1)");
        let row = D::query(&sql)
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn org_by_entra_tenant(&mut self, tid: &str) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE entra_tenant_id = $1");
        let row = D::query(&sql)
            .bind(tid)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn users_by_entra_oid(&mut self, oid: &str) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE entra_oid = $1 ORDER BY id");
        let rows = D::query(&sql).bind(oid).fetch_all(&mut *self.tx).await?;
        rows.iter().map(|r| user_from_row(r, &USER)).collect()
    }

    async fn orgs(&mut self) -> Result<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY name, id");
        let rows = D::query(&sql).fetch_all(&mut *self.tx).await?;
        rows.iter().map(org_from_row).collect()
    }

    async fn insert_org(&mut self, org: &Org, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO organizations (id, name, entra_tenant_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(org.id.to_string())
        .bind(&org.name)
        .bind(&org.entra_tenant_id)
        .bind(org.created_at.millis())
        .bind(org.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        append_audit::<D>(&mut self.tx, &self.audit, org.id, audit).await
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(|r| user_from_row(r, &USER)).transpose()
    }

    async fn user_by_email(&mut self, email: &Email) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = D::query(&sql)
            .bind(email.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(|r| user_from_row(r, &USER)).transpose()
    }

    async fn insert_user(&mut self, user: &User, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        insert_user_row::<D>(&mut self.tx, user).await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn update_user(&mut self, user: &User, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        let done = D::query(
            "UPDATE users SET email = $2, display_name = $3, password_hash = $4, \
             entra_oid = $5, tokens_valid_after = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(&user.entra_oid)
        .bind(user.tokens_valid_after.millis())
        .bind(user.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn memberships_of(&mut self, user: UserId) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.user_id = $1 ORDER BY m.tenant_id"
        );
        let rows = D::query(&sql)
            .bind(user.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(membership_from_row).collect()
    }

    async fn invitations_for(
        &mut self,
        email: &Email,
    ) -> Result<Vec<(tater_domain::Invitation, String)>> {
        let sql = format!(
            "SELECT {}, o.name AS org_name FROM invitations i JOIN organizations o ON o.id = i.tenant_id \
             WHERE i.email = $1 AND i.status = 'pending' ORDER BY i.created_at DESC, i.id",
            INVITATION_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = D::query(&sql)
            .bind(email.as_str())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((invitation_from_row(r)?, r.try_get("org_name")?)))
            .collect()
    }

    async fn invitation_by_id(
        &mut self,
        id: tater_domain::InvitationId,
    ) -> Result<Option<tater_domain::Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1{}",
            D::LOCK
        );
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn decide_invitation(
        &mut self,
        i: &tater_domain::Invitation,
        status: tater_domain::InvitationStatus,
        at: Timestamp,
        user: Option<UserId>,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE invitations SET status = $3, decided_at = $4, user_id = $5 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(i.org.to_string())
        .bind(i.id.to_string())
        .bind(status.as_str())
        .bind(at.millis())
        .bind(user.map(|u| u.to_string()))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_audit::<D>(&mut self.tx, &self.audit, i.org, audit).await
    }

    async fn put_membership(&mut self, m: &Membership, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id) \
             DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
        )
        .bind(m.org.to_string())
        .bind(m.user.to_string())
        .bind(m.role.as_str())
        .bind(m.created_at.millis())
        .bind(m.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        append_audit::<D>(&mut self.tx, &self.audit, m.org, audit).await
    }

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_key_by_hash(&mut self, key_hash: &str) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        let row = D::query(&sql)
            .bind(key_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_key_identity(
        &mut self,
        key_hash: &str,
    ) -> Result<Option<(ApiKey, User, Vec<Membership>)>> {
        // One round trip: the key, its user, and one row per membership. The statement is
        // built once: this runs on every API-key request.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {MEMBERSHIP_COLUMNS} FROM api_keys k \
                 JOIN users u ON u.id = k.user_id \
                 LEFT JOIN memberships m ON m.user_id = u.id \
                 WHERE k.key_hash = $1 ORDER BY m.tenant_id",
                key_columns_of_k(),
                user_columns_as_u()
            )
        });
        let rows = D::query(&SQL)
            .bind(key_hash)
            .fetch_all(&mut *self.tx)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        Ok(Some((
            key_from_row(first)?,
            user_from_row(first, &USER_AS_U)?,
            memberships_from_rows(&rows)?,
        )))
    }

    async fn entra_identity(
        &mut self,
        tid: &str,
        oid: &str,
    ) -> Result<Option<(OrgId, User, Vec<Membership>)>> {
        let sql = format!(
            "SELECT o.id AS org_id, {}, {MEMBERSHIP_COLUMNS} FROM organizations o \
             JOIN users u ON u.entra_oid = $2 \
             LEFT JOIN memberships m ON m.user_id = u.id \
             WHERE o.entra_tenant_id = $1 ORDER BY u.id, m.tenant_id",
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(tid)
            .bind(oid)
            .fetch_all(&mut *self.tx)
            .await?;
        // Rows come grouped by user; pick the user who is a member of the org.
        let mut start = 0;
        while start < rows.len() {
            let user_id: String = rows[start].try_get("u_id")?;
            let mut end = start + 1;
            while end < rows.len() && rows[end].try_get::<String>("u_id")? == user_id {
                end += 1;
            }
            let group = &rows[start..end];
            let org: OrgId = parse_col(&group[0], "org_id")?;
            let memberships = memberships_from_rows(group)?;
            if memberships.iter().any(|m| m.org == org) {
                return Ok(Some((
                    org,
                    user_from_row(&group[0], &USER_AS_U)?,
                    memberships,
                )));
            }
            start = end;
        }
        Ok(None)
    }

    async fn user_identity(&mut self, id: UserId) -> Result<Option<(User, Vec<Membership>)>> {
        // Built once: this runs on every request signed in by a session token.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {MEMBERSHIP_COLUMNS} FROM users u \
                 LEFT JOIN memberships m ON m.user_id = u.id WHERE u.id = $1 ORDER BY m.tenant_id",
                user_columns_as_u()
            )
        });
        let rows = D::query(&SQL)
            .bind(id.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        Ok(Some((
            user_from_row(first, &USER_AS_U)?,
            memberships_from_rows(&rows)?,
        )))
    }

    async fn insert_api_key(&mut self, key: &ApiKey, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        insert_key_row::<D>(&mut self.tx, key).await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn enrollment_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<EnrollmentToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_hash = $1");
        let row = D::query(&sql)
            .bind(token_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn auditor_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<tater_domain::AuditorToken>> {
        let sql =
            format!("SELECT {AUDITOR_TOKEN_COLUMNS} FROM auditor_tokens WHERE token_hash = $1");
        let row = D::query(&sql)
            .bind(token_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(auditor_token_from_row).transpose()
    }

    async fn endpoint_by_hostname(
        &mut self,
        org: OrgId,
        hostname: &str,
    ) -> Result<Option<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1 AND hostname = $2"
        );
        let row = D::query(&sql)
            .bind(org.to_string())
            .bind(hostname)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn enroll_endpoint(
        &mut self,
        token: &EnrollmentToken,
        e: &Endpoint,
        existed: bool,
        audit: &AuditDraft,
    ) -> Result<()> {
        let org = token.org.to_string();
        if existed {
            // Only the active endpoint as the caller read it: a retired one stays
            // retired, and a concurrent re-enrolment (or a used allowance) loses.
            let done = D::query(
                "UPDATE endpoints SET os = $3, os_version = $4, arch = $5, agent_version = $6, \
                 credential_hash = $7, credential_prefix = $8, enrolled_at = $9, \
                 last_seen_at = $9, reenroll_allowed_until = NULL, version = version + 1, updated_at = $9 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND version = $10",
            )
            .bind(&org)
            .bind(e.id.to_string())
            .bind(&e.os)
            .bind(&e.os_version)
            .bind(&e.arch)
            .bind(&e.agent_version)
            .bind(&e.credential_hash)
            .bind(&e.credential_prefix)
            .bind(e.enrolled_at.millis())
            .bind(e.version - 1)
            .execute(&mut *self.tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        } else {
            D::query(
                "INSERT INTO endpoints (tenant_id, id, hostname, os, os_version, arch, agent_version, \
                 tags, status, credential_hash, credential_prefix, enrolled_at, last_seen_at, \
                 last_scan_id, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $11, NULL, 1, $11, $11)",
            )
            .bind(&org)
            .bind(e.id.to_string())
            .bind(&e.hostname)
            .bind(&e.os)
            .bind(&e.os_version)
            .bind(&e.arch)
            .bind(&e.agent_version)
            .bind(Json(&e.tags))
            .bind(&e.credential_hash)
            .bind(&e.credential_prefix)
            .bind(e.enrolled_at.millis())
            .execute(&mut *self.tx)
            .await?;
        }
        // Counting the use in the same statement as its condition keeps a single-use
        // token single-use under concurrent enrolments.
        let used = D::query(
            "UPDATE enrollment_tokens SET uses = uses + 1 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL AND (single_use = $3 OR uses = 0)",
        )
        .bind(&org)
        .bind(token.id.to_string())
        .bind(false)
        .execute(&mut *self.tx)
        .await?;
        if used.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the enrollment token was used or revoked".into(),
            ));
        }
        // The audit head last, as every endpoint change takes it (see `endpoint_state`).
        append_audit::<D>(&mut self.tx, &self.audit, token.org, audit).await
    }

    async fn endpoint_by_credential(&mut self, credential_hash: &str) -> Result<Option<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE credential_hash = $1 AND status = 'active'"
        );
        let row = D::query(&sql)
            .bind(credential_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn touch_endpoint(&mut self, org: OrgId, id: EndpointId, now: Timestamp) -> Result<()> {
        D::query("UPDATE endpoints SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, now: Timestamp) -> Result<()> {
        D::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        Ok(crate::driver::Commit::commit(self.tx).await?)
    }
}
