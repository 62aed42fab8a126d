//! Members of an organization (OrgAdmin): invite by email with a role, change roles, remove.
//! Nobody grants a role above their own or touches a member ranked above them, and the last
//! OrgAdmin can be neither demoted nor removed.

use serde_json::{Value, json};
use tater_domain::policy::{Action, Denied, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, Email, Membership, Role, Timestamp, User, UserId,
    ValidationErrors,
};
use tater_store::{Mode, TenantTx};

use crate::{Service, ServiceError, ServiceResult};

/// Roles that administer an organization; at least one member must keep one.
const ADMIN_ROLES: [Role; 2] = [Role::OrgAdmin, Role::SuperAdmin];

pub fn member_view(m: &Membership, u: &User) -> Value {
    json!({
        "userId": u.id,
        "email": u.email,
        "displayName": u.display_name,
        "role": m.role,
        "entraLinked": u.entra_oid.is_some(),
        "hasPassword": u.password_hash.is_some(),
        "createdAt": m.created_at,
        "updatedAt": m.updated_at,
    })
}

fn audit_view(u: &User, role: Role) -> Value {
    json!({ "userId": u.id, "email": u.email, "role": role })
}

fn parse_user_id(id: &str) -> ServiceResult<UserId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

/// Refuses granting, or touching a member with, a role above the caller's own.
fn within_own_role(actor: &Actor, role: Role) -> ServiceResult<()> {
    if role > actor.role() {
        return Err(ServiceError::Forbidden(Denied {
            required: role,
            actual: actor.role(),
        }));
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
    pub async fn list_members(&self, actor: &Actor) -> ServiceResult<Vec<Value>> {
        authorize(actor, Action::ManageMembers)?;
        let mut tx = self
            .store
            .tenant(&tater_domain::TenantScope::of(actor), Mode::Read)
            .await?;
        Ok(tx
            .members()
            .await?
            .iter()
            .map(|(m, u)| member_view(m, u))
            .collect())
    }

    /// Invites `email` with `role`: the account is created when new (no password; it signs in
    /// through Entra ID or after an operator sets one) and becomes a member.
    pub async fn invite_member(
        &self,
        actor: &Actor,
        email: &str,
        role: Role,
    ) -> ServiceResult<Value> {
        authorize(actor, Action::ManageMembers)?;
        within_own_role(actor, role)?;
        let email =
            Email::parse(email).map_err(|e| ValidationErrors::single("email", e.to_string()))?;
        let now = self.clock.now();
        let mut tx = self
            .store
            .tenant(&tater_domain::TenantScope::of(actor), Mode::Write)
            .await?;
        let user = match tx.user_by_email(&email).await? {
            Some(u) => u,
            None => {
                let user = User {
                    id: UserId::generate(),
                    email,
                    display_name: None,
                    password_hash: None,
                    entra_oid: None,
                    tokens_valid_after: Timestamp::from_millis(0),
                    created_at: now,
                    updated_at: now,
                };
                let after = json!({ "email": user.email, "invitedBy": actor.audit_user_id() });
                let audit = AuditDraft::new(actor, AuditAction::Create, "user", user.id, now)
                    .with_changes(None, Some(&after), &[]);
                tx.insert_user(&user, &audit).await?;
                user
            }
        };
        let membership = Membership {
            org: actor.org(),
            user: user.id,
            role,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditDraft::new(actor, AuditAction::Create, "membership", user.id, now)
            .with_changes(None, Some(&audit_view(&user, role)), &[]);
        tx.add_member(&membership, &audit)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => {
                    ServiceError::Conflict("that person is already a member".into())
                }
                other => other,
            })?;
        tx.commit().await?;
        Ok(member_view(&membership, &user))
    }

    pub async fn change_member_role(
        &self,
        actor: &Actor,
        user_id: &str,
        role: Role,
    ) -> ServiceResult<Value> {
        authorize(actor, Action::ManageMembers)?;
        let user_id = parse_user_id(user_id)?;
        within_own_role(actor, role)?;
        let mut tx = self
            .store
            .tenant(&tater_domain::TenantScope::of(actor), Mode::Write)
            .await?;
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
        authorize(actor, Action::ManageMembers)?;
        let user_id = parse_user_id(user_id)?;
        let mut tx = self
            .store
            .tenant(&tater_domain::TenantScope::of(actor), Mode::Write)
            .await?;
        let (current, user) = tx.member(user_id).await?.ok_or(ServiceError::NotFound)?;
        within_own_role(actor, current.role)?;
        keep_an_admin(&mut *tx, current.role, None).await?;
        let audit = AuditDraft::new(
            actor,
            AuditAction::Delete,
            "membership",
            user.id,
            self.clock.now(),
        )
        .with_changes(Some(&audit_view(&user, current.role)), None, &[]);
        tx.remove_member(user.id, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
