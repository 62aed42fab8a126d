//! Members, API keys and invitations, seen from inside one organization.

use std::sync::LazyLock;

use super::*;

pub(super) const USER_COLUMNS: &str = "id, email, display_name, password_hash, entra_oid, \
     tokens_valid_after, created_at, updated_at";
pub(super) const ORG_COLUMNS: &str =
    "id, name, entra_tenant_id, created_at, updated_at, terminated_at, delete_after";
pub(super) const MEMBERSHIP_COLUMNS: &str = "m.tenant_id AS m_tenant_id, m.user_id AS m_user_id, \
     m.role AS m_role, m.created_at AS m_created_at, m.updated_at AS m_updated_at";
pub(super) const KEY_COLUMNS: &str = "id, user_id, tenant_id, key_hash, prefix, name, role, \
     created_at, expires_at, last_used_at, revoked_at, verified_at, verified_until";

pub(super) const INVITATION_COLUMNS: &str = "tenant_id, id, email, role, status, invited_by, \
     invited_by_email, created_at, expires_at, decided_at, user_id";

pub(super) fn invitation_from_row(r: &impl RowRead) -> Result<tater_domain::Invitation> {
    let email: String = r.try_get("email")?;
    let status: String = r.try_get("status")?;
    Ok(tater_domain::Invitation {
        id: parse_col(r, "id")?,
        org: parse_col(r, "tenant_id")?,
        email: Email::parse(&email).map_err(|_| corrupt("email"))?,
        role: parse_col(r, "role")?,
        status: status.parse().map_err(|_| corrupt("status"))?,
        invited_by: r.try_get("invited_by")?,
        invited_by_email: r.try_get("invited_by_email")?,
        created_at: ts(r, "created_at")?,
        expires_at: ts(r, "expires_at")?,
        decided_at: opt_ts(r, "decided_at")?,
        user: parse_opt_col(r, "user_id")?,
    })
}

/// Where a user's columns are in a row: under their stored names ([`USER`]), or renamed
/// `u_<column>` by [`user_columns_as_u`] ([`USER_AS_U`]). Names, not a prefix to format: the
/// identity read of every authenticated request reads a user (issue 20).
pub(super) struct UserColumns {
    id: &'static str,
    email: &'static str,
    display_name: &'static str,
    password_hash: &'static str,
    entra_oid: &'static str,
    tokens_valid_after: &'static str,
    created_at: &'static str,
    updated_at: &'static str,
}

impl UserColumns {
    #[cfg(test)]
    fn names(&self) -> [&'static str; 8] {
        [
            self.id,
            self.email,
            self.display_name,
            self.password_hash,
            self.entra_oid,
            self.tokens_valid_after,
            self.created_at,
            self.updated_at,
        ]
    }
}

/// A user's column names, each as `<prefix><column>`, spelled out at compile time.
macro_rules! user_columns {
    ($prefix:literal) => {
        UserColumns {
            id: concat!($prefix, "id"),
            email: concat!($prefix, "email"),
            display_name: concat!($prefix, "display_name"),
            password_hash: concat!($prefix, "password_hash"),
            entra_oid: concat!($prefix, "entra_oid"),
            tokens_valid_after: concat!($prefix, "tokens_valid_after"),
            created_at: concat!($prefix, "created_at"),
            updated_at: concat!($prefix, "updated_at"),
        }
    };
}

pub(super) const USER: UserColumns = user_columns!("");
pub(super) const USER_AS_U: UserColumns = user_columns!("u_");

/// Reads a user from the columns `cols` names.
pub(super) fn user_from_row(row: &impl RowRead, cols: &UserColumns) -> Result<User> {
    let email: String = row.try_get(cols.email)?;
    Ok(User {
        id: parse_col(row, cols.id)?,
        email: Email::parse(&email).map_err(|_| corrupt("email"))?,
        display_name: row.try_get(cols.display_name)?,
        password_hash: row.try_get(cols.password_hash)?,
        entra_oid: row.try_get(cols.entra_oid)?,
        tokens_valid_after: ts(row, cols.tokens_valid_after)?,
        created_at: ts(row, cols.created_at)?,
        updated_at: ts(row, cols.updated_at)?,
    })
}

/// `USER_COLUMNS` of table alias `u`, renamed `u_<column>`. Built once: it is spliced into
/// statements that run on every authenticated request.
pub(super) fn user_columns_as_u() -> &'static str {
    static COLUMNS: LazyLock<String> =
        LazyLock::new(|| each_column(USER_COLUMNS, |c| format!("u.{c} AS u_{c}")));
    &COLUMNS
}

/// `KEY_COLUMNS` of table alias `k`. Built once, as [`user_columns_as_u`].
pub(super) fn key_columns_of_k() -> &'static str {
    static COLUMNS: LazyLock<String> =
        LazyLock::new(|| each_column(KEY_COLUMNS, |c| format!("k.{c}")));
    &COLUMNS
}

/// A column list with each column rewritten by `spell`.
pub(super) fn each_column(columns: &str, spell: fn(&str) -> String) -> String {
    columns
        .split(", ")
        .map(spell)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn org_from_row(row: &impl RowRead) -> Result<Org> {
    Ok(Org {
        id: parse_col(row, "id")?,
        name: row.try_get("name")?,
        entra_tenant_id: row.try_get("entra_tenant_id")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        termination: match (
            row.try_get::<Option<i64>>("terminated_at")?,
            row.try_get::<Option<i64>>("delete_after")?,
        ) {
            (Some(at), Some(after)) => Some(tater_domain::Termination {
                at: Timestamp::from_millis(at),
                delete_after: Timestamp::from_millis(after),
            }),
            _ => None,
        },
    })
}

/// Reads a membership from the columns of `MEMBERSHIP_COLUMNS`.
pub(super) fn membership_from_row(row: &impl RowRead) -> Result<Membership> {
    Ok(Membership {
        org: parse_col(row, "m_tenant_id")?,
        user: parse_col(row, "m_user_id")?,
        role: parse_col(row, "m_role")?,
        created_at: ts(row, "m_created_at")?,
        updated_at: ts(row, "m_updated_at")?,
    })
}

/// Memberships from a `LEFT JOIN`: none when the joined columns are null.
pub(super) fn memberships_from_rows(rows: &[impl RowRead]) -> Result<Vec<Membership>> {
    let mut out = Vec::new();
    for row in rows {
        if row.try_get::<Option<String>>("m_tenant_id")?.is_some() {
            out.push(membership_from_row(row)?);
        }
    }
    Ok(out)
}

pub(super) fn key_from_row(row: &impl RowRead) -> Result<ApiKey> {
    Ok(ApiKey {
        id: parse_col(row, "id")?,
        user: parse_col(row, "user_id")?,
        org: parse_opt_col(row, "tenant_id")?,
        key_hash: row.try_get("key_hash")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        role: parse_opt_col(row, "role")?,
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        last_used_at: opt_ts(row, "last_used_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        verified_at: opt_ts(row, "verified_at")?,
        verified_until: opt_ts(row, "verified_until")?,
    })
}

pub(super) async fn insert_user_row<D: Driver>(conn: &mut Conn<D>, user: &User) -> Result<()> {
    D::query(
        "INSERT INTO users (id, email, display_name, password_hash, entra_oid, \
         tokens_valid_after, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user.id.to_string())
    .bind(user.email.as_str())
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(&user.entra_oid)
    .bind(user.tokens_valid_after.millis())
    .bind(user.created_at.millis())
    .bind(user.updated_at.millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_key_row<D: Driver>(conn: &mut Conn<D>, key: &ApiKey) -> Result<()> {
    D::query(
        "INSERT INTO api_keys (id, user_id, tenant_id, key_hash, prefix, name, role, \
         created_at, expires_at, last_used_at, revoked_at, verified_at, verified_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(key.id.to_string())
    .bind(key.user.to_string())
    .bind(key.org.map(|o| o.to_string()))
    .bind(&key.key_hash)
    .bind(&key.prefix)
    .bind(&key.name)
    .bind(key.role.map(|r| r.as_str()))
    .bind(key.created_at.millis())
    .bind(key.expires_at.map(Timestamp::millis))
    .bind(key.last_used_at.map(Timestamp::millis))
    .bind(key.revoked_at.map(Timestamp::millis))
    .bind(key.verified_at.map(Timestamp::millis))
    .bind(key.verified_until.map(Timestamp::millis))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl<D: Driver> MembersTx for EngineTenantTx<D> {
    async fn members(&mut self) -> Result<Vec<(Membership, User)>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS}, {} FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 ORDER BY u.email",
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((membership_from_row(r)?, user_from_row(r, &USER_AS_U)?)))
            .collect()
    }

    async fn member(&mut self, user: UserId) -> Result<Option<(Membership, User)>> {
        let lock = if self.mode == Mode::Write {
            " FOR UPDATE OF m"
        } else {
            ""
        };
        let lock = if D::LOCK.is_empty() { "" } else { lock };
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS}, {} FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND m.user_id = $2{lock}",
            user_columns_as_u()
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(user.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref()
            .map(|r| Ok((membership_from_row(r)?, user_from_row(r, &USER_AS_U)?)))
            .transpose()
    }

    async fn count_members_with(&mut self, roles: &[Role]) -> Result<i64> {
        if roles.is_empty() {
            return Ok(0);
        }
        // Lock the rows counted, so two concurrent demotions cannot both pass.
        let lock = self.lock();
        let placeholders: Vec<String> = (0..roles.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT user_id FROM memberships WHERE tenant_id = $1 AND role IN ({}){lock}",
            placeholders.join(", ")
        );
        let mut q = D::query(&sql).bind(self.tenant());
        for r in roles {
            q = q.bind(r.as_str());
        }
        Ok(q.fetch_all(&mut *self.tx).await?.len() as i64)
    }

    async fn insert_user(&mut self, user: &User, audit: &AuditDraft) -> Result<()> {
        insert_user_row::<D>(&mut self.tx, user).await?;
        self.audited(audit).await
    }

    async fn add_member(&mut self, m: &Membership, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.tenant())
        .bind(m.user.to_string())
        .bind(m.role.as_str())
        .bind(m.created_at.millis())
        .bind(m.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE memberships SET role = $3, updated_at = $4 WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(self.tenant())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn remove_member(&mut self, user: UserId, audit: &AuditDraft) -> Result<()> {
        let done = D::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(self.tenant())
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn api_keys(&mut self) -> Result<Vec<(ApiKey, User)>> {
        let sql = format!(
            "SELECT {}, {} FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.tenant_id = $1 ORDER BY k.created_at DESC, k.id",
            key_columns_of_k(),
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((key_from_row(r)?, user_from_row(r, &USER_AS_U)?)))
            .collect()
    }

    async fn insert_api_key(&mut self, key: &ApiKey, audit: &AuditDraft) -> Result<()> {
        let bound = ApiKey {
            org: Some(self.scope.org()),
            ..key.clone()
        };
        insert_key_row::<D>(&mut self.tx, &bound).await?;
        self.audited(audit).await
    }

    async fn api_key_here(&mut self, id: ApiKeyId) -> Result<Option<(ApiKey, Option<Role>)>> {
        let lock = if self.mode == Mode::Write {
            " FOR UPDATE OF k"
        } else {
            ""
        };
        let lock = if D::LOCK.is_empty() { "" } else { lock };
        let sql = format!(
            "SELECT {}, m.role AS owner_role FROM api_keys k LEFT JOIN memberships m \
             ON m.tenant_id = k.tenant_id AND m.user_id = k.user_id \
             WHERE k.tenant_id = $1 AND k.id = $2{lock}",
            key_columns_of_k(),
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref()
            .map(|r| Ok((key_from_row(r)?, parse_opt_col(r, "owner_role")?)))
            .transpose()
    }

    async fn invitations(&mut self, limit: u32) -> Result<Vec<tater_domain::Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT {limit}"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn invitation(
        &mut self,
        id: tater_domain::InvitationId,
    ) -> Result<Option<tater_domain::Invitation>> {
        let lock = self.lock();
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn pending_invitation(
        &mut self,
        email: &Email,
    ) -> Result<Option<tater_domain::Invitation>> {
        let lock = self.lock();
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND email = $2 \
             AND status = 'pending'{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(email.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn insert_invitation(
        &mut self,
        i: &tater_domain::Invitation,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(&format!(
            "INSERT INTO invitations ({INVITATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(self.tenant())
        .bind(i.id.to_string())
        .bind(i.email.as_str())
        .bind(i.role.as_str())
        .bind(i.status.as_str())
        .bind(&i.invited_by)
        .bind(&i.invited_by_email)
        .bind(i.created_at.millis())
        .bind(i.expires_at.millis())
        .bind(i.decided_at.map(Timestamp::millis))
        .bind(i.user.map(|u| u.to_string()))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn close_invitation(
        &mut self,
        id: tater_domain::InvitationId,
        status: tater_domain::InvitationStatus,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE invitations SET status = $3, decided_at = $4 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        // A revoked key's verified identity ends with it.
        let sql = "UPDATE api_keys SET revoked_at = $3, verified_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
        let done = D::query(sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names a user is read by are the columns the statements select, in both spellings.
    #[test]
    fn user_column_names_match_the_selected_columns() {
        let stored: Vec<&str> = USER_COLUMNS.split(", ").collect();
        assert_eq!(USER.names().to_vec(), stored);
        let renamed: Vec<String> = stored.iter().map(|c| format!("u_{c}")).collect();
        assert_eq!(USER_AS_U.names().to_vec(), renamed);
        let selected: Vec<String> = stored.iter().map(|c| format!("u.{c} AS u_{c}")).collect();
        assert_eq!(user_columns_as_u(), selected.join(", "));
        assert!(key_columns_of_k().starts_with("k.id, k.user_id, "));
        assert_eq!(
            key_columns_of_k().split(", ").count(),
            KEY_COLUMNS.split(", ").count()
        );
    }
}
