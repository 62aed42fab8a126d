//! The invitee's side of invitations: a person sees the invitations addressed to their
//! account's e-mail in every organization, and accepts or declines each. Acceptance is the
//! only way into an organization besides the operator's CLI and a first Entra ID sign-in.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use tater_domain::{
    Actor, AuditAction, AuditDraft, Invitation, InvitationId, InvitationStatus, Membership, OrgId,
    Role, Timestamp,
};
use tater_store::{IdentityTx, Mode};

use crate::{Identity, Service, ServiceError, ServiceResult};

/// Invitations are the person's business across organizations; a credential bound to one of
/// them (a bound API key, an Entra ID token) neither sees nor answers them.
fn refuse_bound(identity: &Identity) -> ServiceResult<()> {
    if identity.is_bound() {
        return Err(ServiceError::ForbiddenCode(
            "BOUND_CREDENTIAL",
            "a credential bound to one organization (a bound API key or an Entra ID token) cannot see or answer invitations; sign in with your password, or use an unbound key".into(),
        ));
    }
    Ok(())
}

/// An invitation as its invitee sees it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedInvitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub org_name: String,
    pub role: Role,
    /// The inviter's e-mail address.
    pub invited_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

fn received_view(i: &Invitation, org_name: &str) -> ReceivedInvitation {
    ReceivedInvitation {
        id: i.id,
        org_id: i.org,
        org_name: org_name.to_owned(),
        role: i.role,
        invited_by: i.invited_by_email.clone(),
        created_at: i.created_at,
        expires_at: i.expires_at,
    }
}

/// The organization an accepted invitation joined, with the role.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    pub org_id: OrgId,
    pub org_name: String,
    pub role: Role,
}

/// Makes the membership and closes the invitation as accepted, audited in its organization
/// by the person joining.
pub(crate) async fn accept_in(
    tx: &mut dyn IdentityTx,
    actor: &Actor,
    invitation: &Invitation,
    membership: &Membership,
    now: Timestamp,
) -> ServiceResult<()> {
    let joined = AuditDraft::new(actor, AuditAction::Create, "membership", membership.user, now)
        .with_changes(
            None,
            Some(&json!({ "userId": membership.user, "email": invitation.email, "role": membership.role, "invitation": invitation.id })),
            &[],
        );
    tx.put_membership(membership, &joined).await?;
    let closed = AuditDraft::new(actor, AuditAction::Update, "invitation", invitation.id, now)
        .with_changes(
            Some(&json!({ "status": "pending" })),
            Some(&json!({ "status": "accepted" })),
            &[],
        );
    tx.decide_invitation(
        invitation,
        InvitationStatus::Accepted,
        now,
        Some(membership.user),
        &closed,
    )
    .await?;
    Ok(())
}

impl Service {
    /// Open invitations addressed to the caller, in every organization.
    pub async fn my_invitations(
        &self,
        identity: &Identity,
    ) -> ServiceResult<Vec<ReceivedInvitation>> {
        refuse_bound(identity)?;
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Read).await?;
        Ok(tx
            .invitations_for(&identity.user().email)
            .await?
            .iter()
            .filter(|(i, _)| i.is_open(now))
            .map(|(i, name)| received_view(i, name))
            .collect())
    }

    /// Joins the organization of an invitation addressed to the caller, with its role.
    pub async fn accept_invitation(&self, identity: &Identity, id: &str) -> ServiceResult<Joined> {
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let invitation = self.addressed_to(&mut *tx, identity, id, now).await?;
        crate::termination::ensure_open(&mut *tx, invitation.org).await?;
        if identity
            .memberships()
            .iter()
            .any(|m| m.org == invitation.org)
            || tx
                .memberships_of(identity.user().id)
                .await?
                .iter()
                .any(|m| m.org == invitation.org)
        {
            return Err(ServiceError::Conflict(
                "you are already a member of that organization".into(),
            ));
        }
        let membership = Membership {
            org: invitation.org,
            user: identity.user().id,
            role: invitation.role,
            created_at: now,
            updated_at: now,
        };
        let actor = identity.actor_joining(invitation.org, invitation.role);
        accept_in(&mut *tx, &actor, &invitation, &membership, now).await?;
        let name = tx
            .org(invitation.org)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        tx.commit().await?;
        Ok(Joined {
            org_id: invitation.org,
            org_name: name,
            role: invitation.role,
        })
    }

    /// Turns an invitation addressed to the caller down; the organization sees it declined.
    pub async fn decline_invitation(&self, identity: &Identity, id: &str) -> ServiceResult<()> {
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let invitation = self.addressed_to(&mut *tx, identity, id, now).await?;
        crate::termination::ensure_open(&mut *tx, invitation.org).await?;
        let actor = identity.actor_joining(invitation.org, invitation.role);
        let audit = AuditDraft::new(
            &actor,
            AuditAction::Update,
            "invitation",
            invitation.id,
            now,
        )
        .with_changes(
            Some(&json!({ "status": "pending" })),
            Some(&json!({ "status": "declined" })),
            &[],
        );
        tx.decide_invitation(&invitation, InvitationStatus::Declined, now, None, &audit)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The open invitation `id` if it is addressed to the caller: anyone else's is not found.
    async fn addressed_to(
        &self,
        tx: &mut dyn IdentityTx,
        identity: &Identity,
        id: &str,
        now: Timestamp,
    ) -> ServiceResult<Invitation> {
        refuse_bound(identity)?;
        let id: InvitationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let invitation = tx
            .invitation_by_id(id)
            .await?
            .filter(|i| i.email == identity.user().email)
            .ok_or(ServiceError::NotFound)?;
        match invitation.status_at(now) {
            InvitationStatus::Pending => Ok(invitation),
            other => Err(ServiceError::Conflict(format!(
                "the invitation is {}; ask the organization for a new one",
                other.as_str()
            ))),
        }
    }
}
