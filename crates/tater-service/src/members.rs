//! Members of an organization (OrgAdmin): invite by email with a role, change roles, remove.
//! Nobody grants a role above their own or touches a member ranked above them, and the last
//! OrgAdmin can be neither demoted nor removed.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tater_domain::policy::{Action, Denied, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, Email, Invitation, InvitationId, InvitationStatus, Membership,
    Role, Timestamp, User, UserId, ValidationErrors,
};
use tater_store::TenantTx;

use crate::{Service, ServiceError, ServiceResult};

/// An invitation stays open this long.
pub const INVITATION_TTL_SECS: i64 = 14 * 24 * 3600;
/// Invitations listed for an organization, newest first.
const MAX_LISTED_INVITATIONS: u32 = 500;
/// Invitations read when looking for the open ones a removed member sent (open ones are at
/// most 14 days old, so they are among the newest).
const MAX_OPEN_INVITATIONS: u32 = 10_000;

/// An invitation as the inviting organization sees it: nothing about any account.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub id: InvitationId,
    pub email: Email,
    pub role: Role,
    pub status: InvitationStatus,
    /// The inviter's e-mail address.
    pub invited_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

pub fn invitation_view(i: &Invitation, now: Timestamp) -> InvitationView {
    InvitationView {
        id: i.id,
        email: i.email.clone(),
        role: i.role,
        status: i.status_at(now),
        invited_by: i.invited_by_email.clone(),
        created_at: i.created_at,
        expires_at: i.expires_at,
        decided_at: i.decided_at,
    }
}

/// Roles that administer an organization; at least one member must keep one.
const ADMIN_ROLES: [Role; 2] = [Role::OrgAdmin, Role::SuperAdmin];

/// A member of the organization: their account as far as the organization may see it, and
/// their role there.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: UserId,
    pub email: Email,
    pub display_name: Option<String>,
    pub role: Role,
    /// Signs in with Entra ID.
    pub entra_linked: bool,
    /// Has a local password.
    pub has_password: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub fn member_view(m: &Membership, u: &User) -> MemberView {
    MemberView {
        user_id: u.id,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        role: m.role,
        entra_linked: u.entra_oid.is_some(),
        has_password: u.password_hash.is_some(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn audit_view(u: &User, role: Role) -> Value {
    json!({ "userId": u.id, "email": u.email, "role": role })
}

fn parse_user_id(id: &str) -> ServiceResult<UserId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

/// Refuses granting, or touching a member (or their key) with, a role above the caller's own.
pub(crate) fn within_own_role(actor: &Actor, role: Role) -> ServiceResult<()> {
    person_role(role)?;
    if role > actor.role() {
        return Err(ServiceError::Forbidden(Denied {
            required: role,
            actual: actor.role(),
        }));
    }
    Ok(())
}

/// Refuses the endpoint agents' role for a person (a member, an invitation, an API key).
pub(crate) fn person_role(role: Role) -> ServiceResult<()> {
    if role == Role::Agent {
        return Err(ValidationErrors::single(
            "role",
            "agent is the role of endpoint agents, not of a person",
        )
        .into());
    }
    Ok(())
}

/// Refuses leaving the organization without an OrgAdmin.
async fn keep_an_admin(
    tx: &mut dyn TenantTx,
    current: Role,
    next: Option<Role>,
) -> ServiceResult<()> {
    let losing_admin =
        ADMIN_ROLES.contains(&current) && next.is_none_or(|r| !ADMIN_ROLES.contains(&r));
    if losing_admin && tx.count_members_with(&ADMIN_ROLES).await? <= 1 {
        return Err(ServiceError::LastOrgAdmin);
    }
    Ok(())
}

impl Service {
    pub async fn list_members(&self, actor: &Actor) -> ServiceResult<Vec<MemberView>> {
        let permit = authorize(actor, Action::ManageMembers)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(tx
            .members()
            .await?
            .iter()
            .map(|(m, u)| member_view(m, u))
            .collect())
    }

    /// Invites `email` with `role`. Nobody becomes a member until they act: an existing
    /// account accepts or declines at `GET /api/invitations`; an address without an account
    /// accepts by signing in for the first time (Entra ID `upn`). The answer is the same
    /// whether or not an account exists, and says nothing about it.
    pub async fn invite_member(
        &self,
        actor: &Actor,
        email: &str,
        role: Role,
    ) -> ServiceResult<InvitationView> {
        let permit = authorize(actor, Action::ManageMembers)?;
        within_own_role(actor, role)?;
        let email =
            Email::parse(email).map_err(|e| ValidationErrors::single("email", e.to_string()))?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit).await?;
        if tx.members().await?.iter().any(|(_, u)| u.email == email) {
            return Err(ServiceError::Conflict(
                "that person is already a member".into(),
            ));
        }
        if let Some(old) = tx.pending_invitation(&email).await? {
            if old.is_open(now) {
                return Err(ServiceError::Conflict(
                    "that address has a pending invitation; revoke it first to change it".into(),
                ));
            }
            // Ran out: closed as expired, so a new one can take its place.
            let audit = AuditDraft::new(actor, AuditAction::Update, "invitation", old.id, now)
                .with_changes(
                    Some(&json!({ "status": "pending" })),
                    Some(&json!({ "status": "expired" })),
                    &[],
                );
            tx.close_invitation(old.id, InvitationStatus::Expired, now, &audit)
                .await?;
        }
        let invitation = Invitation {
            id: InvitationId::generate(),
            org: actor.org(),
            email,
            role,
            status: InvitationStatus::Pending,
            invited_by: actor.audit_user_id(),
            invited_by_email: actor.audit_upn(),
            created_at: now,
            expires_at: now.plus_seconds(INVITATION_TTL_SECS),
            decided_at: None,
            user: None,
        };
        let audit = AuditDraft::new(actor, AuditAction::Create, "invitation", invitation.id, now)
            .with_changes(
                None,
                Some(&json!({ "email": invitation.email, "role": role, "expiresAt": invitation.expires_at })),
                &[],
            );
        tx.insert_invitation(&invitation, &audit)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => ServiceError::Conflict(
                    "that address has a pending invitation; revoke it first to change it".into(),
                ),
                other => other,
            })?;
        tx.commit().await?;
        Ok(invitation_view(&invitation, now))
    }

    /// The organization's invitations, newest first (OrgAdmin).
    pub async fn list_invitations(&self, actor: &Actor) -> ServiceResult<Vec<InvitationView>> {
        let permit = authorize(actor, Action::ManageMembers)?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(tx
            .invitations(MAX_LISTED_INVITATIONS)
            .await?
            .iter()
            .map(|i| invitation_view(i, now))
            .collect())
    }

    /// Withdraws a pending invitation (OrgAdmin; never one for a role above the caller's).
    pub async fn revoke_invitation(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let permit = authorize(actor, Action::ManageMembers)?;
        let id: InvitationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit).await?;
        let invitation = tx.invitation(id).await?.ok_or(ServiceError::NotFound)?;
        within_own_role(actor, invitation.role)?;
        if !invitation.is_open(now) {
            return Err(ServiceError::Conflict(format!(
                "the invitation is {}, not pending",
                invitation.status_at(now).as_str()
            )));
        }
        let audit = AuditDraft::new(actor, AuditAction::Delete, "invitation", id, now)
            .with_changes(
                Some(&json!({ "email": invitation.email, "role": invitation.role, "status": "pending" })),
                Some(&json!({ "status": "revoked" })),
                &[],
            );
        tx.close_invitation(id, InvitationStatus::Revoked, now, &audit)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn change_member_role(
        &self,
        actor: &Actor,
        user_id: &str,
        role: Role,
    ) -> ServiceResult<MemberView> {
        let permit = authorize(actor, Action::ManageMembers)?;
        let user_id = parse_user_id(user_id)?;
        within_own_role(actor, role)?;
        let mut tx = self.store.tenant(&permit).await?;
        let (current, user) = tx.member(user_id).await?.ok_or(ServiceError::NotFound)?;
        within_own_role(actor, current.role)?;
        if current.role == role {
            return Ok(member_view(&current, &user));
        }
        keep_an_admin(&mut *tx, current.role, Some(role)).await?;
        let now = self.clock.now();
        let audit = AuditDraft::new(actor, AuditAction::Update, "membership", user.id, now)
            .with_changes(
                Some(&audit_view(&user, current.role)),
                Some(&audit_view(&user, role)),
                &[],
            );
        tx.set_member_role(user.id, role, now, &audit).await?;
        tx.commit().await?;
        Ok(member_view(
            &Membership {
                role,
                updated_at: now,
                ..current
            },
            &user,
        ))
    }

    pub async fn remove_member(&self, actor: &Actor, user_id: &str) -> ServiceResult<()> {
        let permit = authorize(actor, Action::ManageMembers)?;
        let user_id = parse_user_id(user_id)?;
        let mut tx = self.store.tenant(&permit).await?;
        let (current, user) = tx.member(user_id).await?.ok_or(ServiceError::NotFound)?;
        within_own_role(actor, current.role)?;
        keep_an_admin(&mut *tx, current.role, None).await?;
        let now = self.clock.now();
        // Their keys bound to this organization go with the membership (else they would come
        // back to life if the person were invited again). Unbound keys are theirs, for their
        // other organizations, and stay.
        let keys = tx.api_keys().await?;
        for (key, _) in keys
            .iter()
            .filter(|(k, _)| k.user == user.id && k.revoked_at.is_none())
        {
            let audit = AuditDraft::new(actor, AuditAction::Delete, "api-key", key.id, now)
                .with_changes(
                    None,
                    Some(&json!({ "revokedAt": now, "reason": "member removed" })),
                    &[],
                );
            tx.revoke_api_key(key.id, now, &audit).await?;
        }
        // Invitations they sent and nobody answered yet go too: an invitation speaks for the
        // organization only while its sender does.
        let sent = tx.invitations(MAX_OPEN_INVITATIONS).await?;
        for invitation in sent
            .iter()
            .filter(|i| i.invited_by == user.id.to_string() && i.is_open(now))
        {
            let audit =
                AuditDraft::new(actor, AuditAction::Delete, "invitation", invitation.id, now)
                    .with_changes(
                        Some(&json!({ "status": "pending" })),
                        Some(&json!({ "status": "revoked", "reason": "inviter removed" })),
                        &[],
                    );
            tx.close_invitation(invitation.id, InvitationStatus::Revoked, now, &audit)
                .await?;
        }
        let audit = AuditDraft::new(actor, AuditAction::Delete, "membership", user.id, now)
            .with_changes(Some(&audit_view(&user, current.role)), None, &[]);
        tx.remove_member(user.id, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
