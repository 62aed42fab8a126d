//! API keys managed through the API (OrgAdmin). A key created here belongs to its creator, is
//! bound to the active organization and may carry a lower role; nobody mints a credential that
//! acts as someone else (the operator CLI can, for service accounts). The organization's
//! OrgAdmins list and revoke the keys bound to it (with immediate effect), never those of a
//! member ranked above them; unbound keys belong to their owner across organizations and no
//! single organization manages them.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, ApiKey, ApiKeyId, AuditAction, AuditDraft, Email, OrgId, Role, Timestamp, User, UserId,
    ValidationErrors,
};

use crate::secrets::{display_prefix, generate_api_key, hash_api_key};
use crate::{Service, ServiceError, ServiceResult};

/// Keys expire at most this long after creation when an expiry is given.
const MAX_KEY_LIFETIME_SECS: i64 = 5 * 366 * 24 * 3600;
const MAX_KEY_NAME: usize = 100;

/// A key as listed: never the secret or its hash.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it by.
    pub prefix: String,
    pub user_id: UserId,
    pub email: Email,
    /// The organization a bound key acts in; `null` for a key of its owner's every membership.
    pub org_id: Option<OrgId>,
    pub bound: bool,
    /// A role below the owner's, when the key carries one.
    pub role: Option<Role>,
    pub status: KeyStatus,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Until when the owner's identity counts as verified for this key's MCP writes (an
    /// emailed code); `null` when it does not.
    pub verified_until: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
    Expired,
}

/// A key just created: its record and, this once, the key itself.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The key: shown this once, never stored (only its hash is).
    pub key: String,
}

/// A list answer without paging: `{"items": [...]}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

pub fn api_key_view(k: &ApiKey, owner: &User, now: Timestamp) -> ApiKeyView {
    let status = if k.revoked_at.is_some() {
        KeyStatus::Revoked
    } else if k.expires_at.is_some_and(|e| e <= now) {
        KeyStatus::Expired
    } else {
        KeyStatus::Active
    };
    ApiKeyView {
        id: k.id,
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        user_id: owner.id,
        email: owner.email.clone(),
        org_id: k.org,
        bound: k.org.is_some(),
        role: k.role,
        status,
        created_at: k.created_at,
        expires_at: k.expires_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
        verified_until: k
            .verified_until
            .filter(|_| k.is_verified(now, owner.tokens_valid_after)),
    }
}

fn audit_view(k: &ApiKey) -> Value {
    json!({ "name": k.name, "prefix": k.prefix, "userId": k.user, "orgId": k.org, "role": k.role, "expiresAt": k.expires_at })
}

impl Service {
    pub async fn list_api_keys(&self, actor: &Actor) -> ServiceResult<Items<ApiKeyView>> {
        let permit = authorize(actor, Action::ManageKeys)?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let items = tx
            .api_keys()
            .await?
            .iter()
            .map(|(k, u)| api_key_view(k, u, now))
            .collect();
        Ok(Items { items })
    }

    /// Creates a key for the caller, bound to the active organization. `role` may only lower
    /// the caller's role.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
        role: Option<Role>,
        expires_at: Option<Timestamp>,
    ) -> ServiceResult<CreatedApiKey> {
        let permit = authorize(actor, Action::ManageKeys)?;
        if let Some(role) = role {
            crate::members::person_role(role)?;
        }
        let user = actor
            .user_id()
            .ok_or_else(|| ServiceError::BadRequest("only a user can own an API key".into()))?;
        let mut errors = ValidationErrors::new();
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_KEY_NAME
            || name.chars().any(char::is_control)
        {
            errors.add(
                "name",
                format!("must be 1 to {MAX_KEY_NAME} characters on one line"),
            );
        }
        if role.is_some_and(|r| r > actor.role()) {
            errors.add(
                "role",
                format!("cannot be above your own role ({})", actor.role()),
            );
        }
        let now = self.clock.now();
        if let Some(e) = expires_at
            && (e <= now || e > now.plus_seconds(MAX_KEY_LIFETIME_SECS))
        {
            errors.add("expiresAt", "must be in the future and within five years");
        }
        errors.into_result(())?;
        let key = generate_api_key();
        let record = ApiKey {
            id: ApiKeyId::generate(),
            user,
            org: Some(actor.org()),
            key_hash: hash_api_key(&key),
            prefix: display_prefix(&key),
            name: name.to_owned(),
            role,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            verified_at: None,
            verified_until: None,
        };
        let audit = AuditDraft::new(actor, AuditAction::Create, "api-key", record.id, now)
            .with_changes(None, Some(&audit_view(&record)), &[]);
        let mut tx = self.store.tenant(&permit).await?;
        tx.insert_api_key(&record, &audit).await?;
        let owner = tx
            .member(user)
            .await?
            .map(|(_, u)| u)
            .ok_or(ServiceError::NotAMember)?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            view: api_key_view(&record, &owner, now),
            key,
        })
    }

    /// Revokes a key bound to the active organization; others answer 404. As with members,
    /// nobody touches the key of someone ranked above them (403).
    pub async fn revoke_api_key(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let permit = authorize(actor, Action::ManageKeys)?;
        let id: ApiKeyId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let now = self.clock.now();
        let audit = AuditDraft::new(actor, AuditAction::Delete, "api-key", id, now).with_changes(
            None,
            Some(&json!({ "revokedAt": now })),
            &[],
        );
        let mut tx = self.store.tenant(&permit).await?;
        let (_, owner_role) = tx.api_key_here(id).await?.ok_or(ServiceError::NotFound)?;
        if let Some(role) = owner_role {
            crate::members::within_own_role(actor, role)?;
        }
        tx.revoke_api_key(id, now, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
