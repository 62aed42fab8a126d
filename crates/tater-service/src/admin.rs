//! Operator actions of the admin CLI and demo seeding, attributed to a named system actor.

use serde_json::{Value, json};
use tater_domain::{
    Actor, ApiKey, ApiKeyId, AuditAction, AuditDraft, Channel, Email, Membership, Org, OrgId, Role,
    Timestamp, User, UserId, ValidationErrors,
};
use tater_store::{IdentityTx, Mode};

use crate::auth::{MIN_PASSWORD_LEN, hash_password};
use crate::secrets::{display_prefix, generate_api_key, hash_api_key};
use crate::{Service, ServiceError, ServiceResult};

const MAX_ORG_NAME: usize = 200;

/// An organization named on the command line: by id, or by its (case-insensitive) name.
pub struct AdminOrgRef<'a>(pub &'a str);

/// A newly created API key. `key` is shown once and never stored.
pub struct NewApiKey {
    pub key: String,
    pub record: ApiKey,
}

/// Who performs an operator action: `name` becomes the audit `userId` (`system:<name>`), and
/// `detail` the audit `upn` (for the CLI, the operating-system account that ran it).
#[derive(Debug, Clone)]
pub struct SystemOperator {
    pub name: &'static str,
    pub detail: String,
}

impl SystemOperator {
    pub(crate) fn actor(&self, org: OrgId) -> Actor {
        Actor::system(self.name, self.detail.clone(), org, Channel::Api)
    }
}

fn guid(field: &str, raw: Option<&str>) -> ServiceResult<Option<String>> {
    raw.map(|s| {
        let s = s.trim().to_ascii_lowercase();
        uuid_shape(&s).then_some(s).ok_or_else(|| {
            ValidationErrors::single(field, "must be a GUID (8-4-4-4-12 hex digits)").into()
        })
    })
    .transpose()
}

fn uuid_shape(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_email(field: &str, raw: &str) -> ServiceResult<Email> {
    Email::parse(raw).map_err(|e| ValidationErrors::single(field, e.to_string()).into())
}

/// Argon2id is deliberately slow; keep it off the async workers.
pub(crate) async fn hash_in_background(password: &str) -> ServiceResult<String> {
    check_password(password)?;
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?
        .map_err(ServiceError::Internal)
}

async fn user_by_email(tx: &mut dyn IdentityTx, email: &Email) -> ServiceResult<User> {
    tx.user_by_email(email).await?.ok_or(ServiceError::NotFound)
}

fn check_password(password: &str) -> ServiceResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN || password.len() > 1024 {
        return Err(ValidationErrors::single(
            "password",
            format!("must be {MIN_PASSWORD_LEN} to 1024 characters"),
        )
        .into());
    }
    Ok(())
}

impl Service {
    pub(crate) async fn find_org(
        tx: &mut dyn IdentityTx,
        reference: &AdminOrgRef<'_>,
    ) -> ServiceResult<Org> {
        let by_id = match reference.0.parse::<OrgId>() {
            Ok(id) => tx.org(id).await?,
            Err(_) => None,
        };
        match by_id {
            Some(org) => Ok(org),
            None => tx
                .org_by_name(reference.0.trim())
                .await?
                .ok_or(ServiceError::NotFound),
        }
    }

    pub async fn admin_find_org(&self, reference: AdminOrgRef<'_>) -> ServiceResult<Org> {
        let mut tx = self.store.identity(Mode::Read).await?;
        Self::find_org(&mut *tx, &reference).await
    }

    pub async fn admin_create_org(
        &self,
        op: &SystemOperator,
        name: &str,
        entra_tenant: Option<&str>,
    ) -> ServiceResult<Org> {
        self.create_org(name, entra_tenant, |org| op.actor(org), None)
            .await
    }

    /// Cross-organization (SPEC T2): a SuperAdmin creates an organization and becomes its
    /// first OrgAdmin, so someone can manage it. Audited in the new organization's log.
    pub async fn cross_org_create_organization(
        &self,
        actor: &Actor,
        name: &str,
        entra_tenant: Option<&str>,
    ) -> ServiceResult<OrgView> {
        tater_domain::policy::authorize(actor, tater_domain::policy::Action::CrossOrg)?;
        let creator = actor.user_id().ok_or_else(|| {
            ServiceError::BadRequest("only a user can create organizations here".into())
        })?;
        let org = self
            .create_org(name, entra_tenant, |_| actor.clone(), Some(creator))
            .await?;
        Ok(OrgView::of(&org))
    }

    /// Creates an organization, audited (as `audit_as` returns for the new id) as the first
    /// entry of its own log; `first_admin` becomes its OrgAdmin in the same transaction.
    async fn create_org(
        &self,
        name: &str,
        entra_tenant: Option<&str>,
        audit_as: impl Fn(OrgId) -> Actor,
        first_admin: Option<UserId>,
    ) -> ServiceResult<Org> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_ORG_NAME
            || name.chars().any(char::is_control)
        {
            return Err(ValidationErrors::single(
                "name",
                format!("must be 1 to {MAX_ORG_NAME} characters on one line"),
            )
            .into());
        }
        let now = self.clock.now();
        let org = Org {
            id: OrgId::generate(),
            name: name.to_owned(),
            entra_tenant_id: guid("entraTenantId", entra_tenant)?,
            created_at: now,
            updated_at: now,
            termination: None,
        };
        let actor = audit_as(org.id);
        let after = json!({ "name": org.name, "entraTenantId": org.entra_tenant_id });
        let audit = AuditDraft::new(&actor, AuditAction::Create, "organization", org.id, now)
            .with_changes(None, Some(&after), &[]);
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.insert_org(&org, &audit)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => ServiceError::Conflict(
                    "an organization with that name or Entra tenant exists".into(),
                ),
                other => other,
            })?;
        if let Some(user) = first_admin {
            let membership = Membership {
                org: org.id,
                user,
                role: Role::OrgAdmin,
                created_at: now,
                updated_at: now,
            };
            let view =
                json!({ "userId": user, "email": actor.audit_upn(), "role": Role::OrgAdmin });
            let audit = AuditDraft::new(&actor, AuditAction::Create, "membership", user, now)
                .with_changes(None, Some(&view), &[]);
            tx.put_membership(&membership, &audit).await?;
        }
        tx.commit().await?;
        self.start_org(org.id, &actor).await;
        Ok(org)
    }

    /// Gives a new organization the records the modules start it with (the customary data
    /// labels), each audited as made by `system:org-setup` on behalf of whoever created it
    /// (their name as the entry's `upn`, their channel). The organization exists either
    /// way: a failure here is logged, and the labels can be made by hand.
    async fn start_org(&self, org: OrgId, creator: &Actor) {
        let actor = Actor::system("org-setup", creator.audit_upn(), org, creator.channel());
        for def in tater_domain::modules::ALL {
            for body in def.starter_records {
                let made = match serde_json::from_str::<serde_json::Value>(body) {
                    Ok(body) => self.create_record(&actor, def, &body).await.map(drop),
                    Err(e) => Err(ServiceError::Internal(e.into())),
                };
                if let Err(e) = made {
                    tracing::warn!(%org, module = def.name, error = %e, "starter record not made");
                }
            }
        }
    }

    /// Creates the user (or finds it by email) and gives it `role` in the organization.
    /// Returns the user id and whether the user was new.
    pub async fn admin_create_user(
        &self,
        op: &SystemOperator,
        org: AdminOrgRef<'_>,
        email: &str,
        role: Role,
        password: Option<&str>,
        entra_oid: Option<&str>,
    ) -> ServiceResult<(UserId, bool)> {
        let email = parse_email("email", email)?;
        let entra_oid = guid("entraOid", entra_oid)?;
        let password_hash = match password {
            Some(p) => Some(hash_in_background(p).await?),
            None => None,
        };
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let org = Self::find_org(&mut *tx, &org).await?;
        crate::termination::ensure_open(&mut *tx, org.id).await?;
        let actor = op.actor(org.id);
        let (user, created) = match tx.user_by_email(&email).await? {
            Some(existing) => (existing, false),
            None => {
                let user = User {
                    id: UserId::generate(),
                    email: email.clone(),
                    display_name: None,
                    password_hash,
                    entra_oid,
                    tokens_valid_after: Timestamp::from_millis(0),
                    created_at: now,
                    updated_at: now,
                };
                let after = user_audit_view(&user);
                let audit = AuditDraft::new(&actor, AuditAction::Create, "user", user.id, now)
                    .with_changes(None, Some(&after), &["passwordHash"]);
                tx.insert_user(&user, &[(org.id, audit)]).await?;
                (user, true)
            }
        };
        let previous = tx
            .memberships_of(user.id)
            .await?
            .into_iter()
            .find(|m| m.org == org.id);
        if previous.as_ref().is_none_or(|m| m.role != role) {
            let membership = Membership {
                org: org.id,
                user: user.id,
                role,
                created_at: previous.as_ref().map_or(now, |m| m.created_at),
                updated_at: now,
            };
            let view = |r: Role| json!({ "userId": user.id, "email": user.email, "role": r });
            let before = previous.as_ref().map(|m| view(m.role));
            let action = if previous.is_some() {
                AuditAction::Update
            } else {
                AuditAction::Create
            };
            let audit = AuditDraft::new(&actor, action, "membership", user.id, now).with_changes(
                before.as_ref(),
                Some(&view(role)),
                &[],
            );
            tx.put_membership(&membership, &audit).await?;
        }
        tx.commit().await?;
        Ok((user.id, created))
    }

    /// Sets a user's password and signs out its earlier sessions. Audited in every
    /// organization the user belongs to.
    pub async fn admin_set_password(
        &self,
        op: &SystemOperator,
        email: &str,
        password: &str,
    ) -> ServiceResult<UserId> {
        let email = parse_email("email", email)?;
        let hash = hash_in_background(password).await?;
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let user = user_by_email(&mut *tx, &email).await?;
        let updated = User {
            password_hash: Some(hash),
            tokens_valid_after: now,
            updated_at: now,
            ..user.clone()
        };
        let (before, after) = (user_audit_view(&user), user_audit_view(&updated));
        let audits: Vec<(OrgId, AuditDraft)> = tx
            .memberships_of(user.id)
            .await?
            .iter()
            .map(|m| {
                let a =
                    AuditDraft::new(&op.actor(m.org), AuditAction::Update, "user", user.id, now)
                        .with_changes(Some(&before), Some(&after), &["passwordHash"]);
                (m.org, a)
            })
            .collect();
        tx.update_user(&updated, &audits).await?;
        tx.commit().await?;
        Ok(user.id)
    }

    /// Creates an API key for the user, bound to `org` when given (which must be one of the
    /// user's organizations), else unbound.
    pub async fn admin_create_api_key(
        &self,
        op: &SystemOperator,
        email: &str,
        org: Option<AdminOrgRef<'_>>,
        name: &str,
        role: Option<Role>,
        expires_at: Option<Timestamp>,
    ) -> ServiceResult<NewApiKey> {
        let email = parse_email("user", email)?;
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let user = user_by_email(&mut *tx, &email).await?;
        let memberships = tx.memberships_of(user.id).await?;
        let bound = match org {
            Some(r) => {
                let org = Self::find_org(&mut *tx, &r).await?;
                crate::termination::ensure_open(&mut *tx, org.id).await?;
                if !memberships.iter().any(|m| m.org == org.id) {
                    return Err(ValidationErrors::single(
                        "org",
                        "the user is not a member of that organization",
                    )
                    .into());
                }
                Some(org.id)
            }
            None => None,
        };
        if memberships.is_empty() {
            return Err(ValidationErrors::single(
                "user",
                "the user is not a member of any organization",
            )
            .into());
        }
        let key = generate_api_key();
        let record = ApiKey {
            id: ApiKeyId::generate(),
            user: user.id,
            org: bound,
            key_hash: hash_api_key(&key),
            prefix: display_prefix(&key),
            name: name.trim().chars().take(200).collect(),
            role,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            verified_at: None,
            verified_until: None,
        };
        let after = json!({
            "name": record.name, "prefix": record.prefix, "userId": user.id, "email": user.email,
            "orgId": record.org, "role": record.role, "expiresAt": record.expires_at,
        });
        // A bound key is audited in its organization; an unbound key in each organization it
        // can act in.
        let orgs: Vec<OrgId> = match bound {
            Some(o) => vec![o],
            None => memberships.iter().map(|m| m.org).collect(),
        };
        let audits: Vec<(OrgId, AuditDraft)> = orgs
            .into_iter()
            .map(|o| {
                let a =
                    AuditDraft::new(&op.actor(o), AuditAction::Create, "api-key", record.id, now)
                        .with_changes(None, Some(&after), &[]);
                (o, a)
            })
            .collect();
        tx.insert_api_key(&record, &audits).await?;
        tx.commit().await?;
        Ok(NewApiKey { key, record })
    }
}

fn user_audit_view(u: &User) -> Value {
    json!({
        "email": u.email,
        "displayName": u.display_name,
        "entraOid": u.entra_oid,
        "passwordHash": u.password_hash,
    })
}

impl Service {
    /// Cross-organization (SPEC T2): every organization on the server. SuperAdmin only.
    pub async fn cross_org_list_organizations(
        &self,
        actor: &Actor,
    ) -> ServiceResult<crate::Items<OrgView>> {
        tater_domain::policy::authorize(actor, tater_domain::policy::Action::CrossOrg)?;
        let mut tx = self.store.identity(Mode::Read).await?;
        let items = tx.orgs().await?.iter().map(OrgView::of).collect();
        Ok(crate::Items { items })
    }
}

/// An organization as the cross-organization operations show it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    /// The Entra ID tenant whose people sign in here, when onboarded.
    pub entra_tenant_id: Option<String>,
    pub created_at: tater_domain::Timestamp,
    /// `active`, or `terminated` (closed to every credential; deleted after `deleteAfter`).
    pub status: OrgStatus,
    pub terminated_at: Option<tater_domain::Timestamp>,
    /// When a terminated organization's data is deleted.
    pub delete_after: Option<tater_domain::Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    Active,
    Terminated,
}

impl OrgView {
    pub(crate) fn of(o: &Org) -> Self {
        Self {
            id: o.id,
            name: o.name.clone(),
            entra_tenant_id: o.entra_tenant_id.clone(),
            created_at: o.created_at,
            status: match o.termination {
                Some(_) => OrgStatus::Terminated,
                None => OrgStatus::Active,
            },
            terminated_at: o.termination.map(|t| t.at),
            delete_after: o.termination.map(|t| t.delete_after),
        }
    }
}
