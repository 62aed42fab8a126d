//! What publishing a policy keeps and what members do with it: the numbered versions
//! (`/api/policies/{id}/versions`), each member's acknowledgement of the version in force
//! with the acknowledgement rate per version, the versions a member still has to acknowledge,
//! and a version as a PDF.
//!
//! A version is made by the policy's `Published` move ([`Effect::PublishPolicyVersion`], in
//! that move's transaction), never by a request of its own: what was approved is what is
//! kept.
//!
//! [`Effect::PublishPolicyVersion`]: tater_domain::module::Effect::PublishPolicyVersion

use std::collections::{BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tater_domain::module::Record;
use tater_domain::modules::POLICIES;
use tater_domain::policy::{Action, authorize};
use tater_domain::time::{format_date, parse_date};
use tater_domain::{
    Actor, AuditAction, AuditDraft, PolicyAcknowledgement, PolicyVersion, Principal, RecordId,
    Timestamp, TransitionId,
};
use tater_store::TenantTx;

use crate::records::parse_id;
use crate::transition_effects::Touched;
use crate::{Items, Service, ServiceError, ServiceResult};

/// The most versions a list shows (newest first).
pub const MAX_VERSIONS_LISTED: u32 = 500;
/// The most acknowledgements of one version read at once.
pub const MAX_ACKNOWLEDGEMENTS: u32 = 50_000;
/// The most policies a "to acknowledge" list names.
const MAX_TO_ACKNOWLEDGE: u32 = 500;

/// A published version as clients see it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyVersionView {
    /// The policy's id.
    pub policy_id: String,
    pub version: u32,
    pub title: String,
    pub category: Option<String>,
    pub owner: Option<String>,
    /// The date it takes effect (`YYYY-MM-DD`).
    pub effective_date: String,
    /// Who published (approved) it: the audit log's `userId`.
    pub approved_by: String,
    pub approved_at: Timestamp,
    /// Lowercase hex SHA-256 of the text (UTF-8), as the publishing move's audit entry
    /// names it.
    pub sha256: String,
    /// The version members acknowledge now: the newest, unless the policy is retired.
    pub in_force: bool,
    /// How many of the organization's current members acknowledged this version.
    pub acknowledged: u32,
    /// How many members the organization has now.
    pub members: u32,
    /// `acknowledged / members`, from 0 to 1 (0 with no members).
    pub acknowledgement_rate: f64,
    /// The text (Markdown): only when one version is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// One member's acknowledgement.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcknowledgementView {
    pub user_id: String,
    pub email: String,
    pub acknowledged_at: Timestamp,
    /// Still a member of the organization (an acknowledgement stays when its member leaves).
    pub member: bool,
}

/// A member who has not acknowledged the version.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutstandingMember {
    pub user_id: String,
    pub email: String,
}

/// Who acknowledged a version, and which members have not.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AcknowledgementReport {
    pub version: PolicyVersionView,
    pub acknowledged: Vec<AcknowledgementView>,
    pub outstanding: Vec<OutstandingMember>,
}

/// The answer to an acknowledgement: the caller's, new or as made before.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledged {
    pub policy_id: String,
    pub version: u32,
    pub acknowledged_at: Timestamp,
    /// False when the caller had acknowledged this version already (nothing changed).
    pub created: bool,
}

/// A version in force that the caller has not acknowledged.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyToAcknowledge {
    pub policy_id: String,
    pub title: String,
    pub version: u32,
    pub effective_date: String,
    pub approved_at: Timestamp,
}

/// A version with everything its PDF prints.
pub struct PolicyDocument {
    pub version: PolicyVersion,
    /// Who approved it, by e-mail address when they are (or were) a member.
    pub approver: String,
    pub organization: String,
}

fn version_no(version: &str) -> ServiceResult<u32> {
    version
        .parse::<u32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or(ServiceError::NotFound)
}

fn text(data: &serde_json::Map<String, Value>, field: &str) -> Option<String> {
    data.get(field).and_then(Value::as_str).map(str::to_owned)
}

async fn policy(tx: &mut dyn TenantTx, id: RecordId) -> ServiceResult<Record> {
    tx.get_record(POLICIES.name, id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// Members of the organization now, as `(user id, e-mail)`.
async fn members(tx: &mut dyn TenantTx) -> ServiceResult<Vec<(String, String)>> {
    Ok(tx
        .members()
        .await?
        .into_iter()
        .map(|(_, user)| (user.id.to_string(), user.email.to_string()))
        .collect())
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The rate as clients see it: a fraction rounded to four places.
fn rate(acknowledged: u32, members: u32) -> f64 {
    if members == 0 {
        return 0.0;
    }
    (f64::from(acknowledged) / f64::from(members) * 10_000.0).round() / 10_000.0
}

fn version_view(
    v: &PolicyVersion,
    in_force: bool,
    acknowledged: u32,
    members: u32,
) -> PolicyVersionView {
    PolicyVersionView {
        policy_id: v.policy.to_string(),
        version: v.version,
        title: v.title.clone(),
        category: v.category.clone(),
        owner: v.owner.clone(),
        effective_date: format_date(v.effective_date),
        approved_by: v.approved_by.clone(),
        approved_at: v.approved_at,
        sha256: v.sha256.clone(),
        in_force,
        acknowledged,
        members,
        acknowledgement_rate: rate(acknowledged, members),
        body: None,
    }
}

/// The version in force: the policy's newest, unless the policy is retired.
async fn in_force(tx: &mut dyn TenantTx, policy: RecordId) -> ServiceResult<Option<u32>> {
    let newest = tx.policy_versions(policy, 1).await?;
    Ok(newest
        .first()
        .filter(|v| v.retired_at.is_none())
        .map(|v| v.version))
}

/// Acknowledgements by the organization's current members, per version.
async fn member_counts(
    tx: &mut dyn TenantTx,
    policy: RecordId,
) -> ServiceResult<HashMap<u32, u32>> {
    Ok(tx
        .acknowledgement_counts(policy, true)
        .await?
        .into_iter()
        .map(|(v, n)| (v, u32::try_from(n).unwrap_or(u32::MAX)))
        .collect())
}

/// One version as clients see it, with its rate among the organization's members now.
async fn counted_version(
    tx: &mut dyn TenantTx,
    policy: RecordId,
    number: u32,
) -> ServiceResult<(PolicyVersion, PolicyVersionView)> {
    let v = tx
        .policy_version(policy, number)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let in_force = in_force(&mut *tx, policy).await? == Some(number);
    let members = count(tx.members().await?.len());
    let acknowledged = member_counts(&mut *tx, policy)
        .await?
        .get(&number)
        .copied()
        .unwrap_or(0);
    let view = version_view(&v, in_force, acknowledged, members);
    Ok((v, view))
}

impl Service {
    /// The policy's text as it stands becomes its next version (the `Published` move's
    /// effect, in that move's transaction; its audit entry names the version and its hash).
    pub(crate) async fn publish_policy_version(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        source: &Record,
        transition: Option<TransitionId>,
        now: Timestamp,
    ) -> ServiceResult<Touched> {
        let transition = transition.ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("a policy is published only by a move"))
        })?;
        let newest = tx.policy_versions(source.meta.id, 1).await?;
        let version = newest.first().map_or(1, |v| v.version.saturating_add(1));
        let body = text(&source.data, "body").unwrap_or_default();
        let effective_date = text(&source.data, "effectiveDate")
            .and_then(|d| parse_date(&d).ok())
            .unwrap_or_else(|| now.date());
        let kept = PolicyVersion {
            policy: source.meta.id,
            version,
            title: text(&source.data, "title").unwrap_or_default(),
            category: text(&source.data, "category"),
            owner: text(&source.data, "owner"),
            sha256: crate::secrets::sha256_hex(body.as_bytes()),
            body,
            effective_date,
            approved_by: actor.audit_user_id(),
            approved_at: now,
            transition,
            retired_at: None,
        };
        tx.insert_policy_version(&kept).await?;
        Ok(Touched {
            module: POLICIES.name,
            id: source.meta.id,
            detail: Some(json!({ "version": version, "sha256": kept.sha256 })),
        })
    }

    /// Retiring a policy: none of its versions is in force from now on (the `Retired` move's
    /// effect; its audit entry says how many versions it retired).
    pub(crate) async fn retire_policy(
        &self,
        tx: &mut dyn TenantTx,
        source: &Record,
        now: Timestamp,
    ) -> ServiceResult<Touched> {
        let retired = tx.retire_policy_versions(source.meta.id, now).await?;
        Ok(Touched {
            module: POLICIES.name,
            id: source.meta.id,
            detail: Some(json!({ "versionsRetired": retired })),
        })
    }

    /// A policy's published versions, newest first, each with its acknowledgement rate
    /// among the organization's current members.
    pub async fn list_policy_versions(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<Items<PolicyVersionView>> {
        let permit = authorize(actor, Action::ReadRecords(POLICIES.read_role))?;
        let id = parse_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        policy(&mut *tx, id).await?;
        let in_force = in_force(&mut *tx, id).await?;
        let members = count(tx.members().await?.len());
        let counts = member_counts(&mut *tx, id).await?;
        let versions = tx.policy_versions(id, MAX_VERSIONS_LISTED).await?;
        let items = versions
            .iter()
            .map(|v| {
                let acknowledged = counts.get(&v.version).copied().unwrap_or(0);
                version_view(v, in_force == Some(v.version), acknowledged, members)
            })
            .collect();
        Ok(Items { items })
    }

    /// One version with its text.
    pub async fn get_policy_version(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
    ) -> ServiceResult<PolicyVersionView> {
        let permit = authorize(actor, Action::ReadRecords(POLICIES.read_role))?;
        let id = parse_id(id)?;
        let number = version_no(version)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        policy(&mut *tx, id).await?;
        let (v, mut view) = counted_version(&mut *tx, id, number).await?;
        view.body = Some(v.body);
        Ok(view)
    }

    /// Who acknowledged a version (current and former members), and which current members
    /// have not. It names members, so it is for those who read the audit log (Auditor up),
    /// as the member list is not for every Viewer.
    pub async fn policy_acknowledgements(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
    ) -> ServiceResult<AcknowledgementReport> {
        let permit = authorize(actor, Action::ReadAudit)?;
        let id = parse_id(id)?;
        let number = version_no(version)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        policy(&mut *tx, id).await?;
        let (_, view) = counted_version(&mut *tx, id, number).await?;
        let members = members(&mut *tx).await?;
        let acks = tx
            .policy_acknowledgements(id, number, MAX_ACKNOWLEDGEMENTS)
            .await?;
        let member_ids: BTreeSet<&str> = members.iter().map(|(id, _)| id.as_str()).collect();
        let acked: BTreeSet<String> = acks.iter().map(|a| a.user.to_string()).collect();
        Ok(AcknowledgementReport {
            version: view,
            acknowledged: acks
                .iter()
                .map(|a| AcknowledgementView {
                    user_id: a.user.to_string(),
                    email: a.email.clone(),
                    acknowledged_at: a.at,
                    member: member_ids.contains(a.user.to_string().as_str()),
                })
                .collect(),
            outstanding: members
                .iter()
                .filter(|(id, _)| !acked.contains(id))
                .map(|(id, email)| OutstandingMember {
                    user_id: id.clone(),
                    email: email.clone(),
                })
                .collect(),
        })
    }

    /// The caller states they have read the version in force (audited). Only the version in
    /// force may be acknowledged, only by a person signed in as themselves — not through an
    /// AI assistant, and not with an API key whose owner has not confirmed it is theirs.
    pub async fn acknowledge_policy(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
    ) -> ServiceResult<Acknowledged> {
        let permit = authorize(actor, Action::Acknowledge)?;
        let Principal::User {
            id: user, email, ..
        } = actor.principal()
        else {
            // `authorize` admits people only.
            return Err(ServiceError::NotFound);
        };
        if actor.channel().is_assistant() {
            return Err(ServiceError::ForbiddenCode(
                "PERSON_REQUIRED",
                "an acknowledgement is a person's own statement: make it in the web application \
                 or with the REST API, not through an AI assistant"
                    .into(),
            ));
        }
        if !actor.is_verified() {
            return Err(ServiceError::ForbiddenCode(
                "IDENTITY_UNVERIFIED",
                "an acknowledgement with an API key needs its owner's identity verified by an \
                 e-mailed code first (POST /api/me/verification-codes), or a sign-in"
                    .into(),
            ));
        }
        let id = parse_id(id)?;
        let number = version_no(version)?;
        let mut tx = self.store.tenant(&permit).await?;
        policy(&mut *tx, id).await?;
        if tx.policy_version(id, number).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        match in_force(&mut *tx, id).await? {
            Some(current) if current == number => {}
            Some(current) => {
                return Err(ServiceError::ConflictCode(
                    "VERSION_SUPERSEDED",
                    format!("version {number} is superseded: acknowledge version {current}"),
                ));
            }
            None => {
                return Err(ServiceError::ConflictCode(
                    "POLICY_RETIRED",
                    "the policy is retired: there is nothing in force to acknowledge".into(),
                ));
            }
        }
        if let Some(before) = tx.acknowledgement_of(id, number, *user).await? {
            return Ok(Acknowledged {
                policy_id: id.to_string(),
                version: number,
                acknowledged_at: before.at,
                created: false,
            });
        }
        let now = self.clock.now();
        let ack = PolicyAcknowledgement {
            policy: id,
            version: number,
            user: *user,
            email: email.to_string(),
            at: now,
        };
        let entry = AuditDraft::new(
            actor,
            AuditAction::Create,
            "policy-acknowledgement",
            id,
            now,
        )
        .with_changes(
            None,
            Some(&json!({ "policy": id.to_string(), "version": number })),
            &[],
        );
        // A concurrent acknowledgement by the same person may have landed in between: then
        // this one records nothing and says so.
        let created = tx.insert_policy_acknowledgement(&ack, &entry).await?;
        tx.commit().await?;
        Ok(Acknowledged {
            policy_id: id.to_string(),
            version: number,
            acknowledged_at: now,
            created,
        })
    }

    /// The versions in force the caller has not acknowledged yet, by policy title (also while
    /// a revision of the policy is under way).
    pub async fn policies_to_acknowledge(
        &self,
        actor: &Actor,
    ) -> ServiceResult<Items<PolicyToAcknowledge>> {
        let permit = authorize(actor, Action::ReadRecords(POLICIES.read_role))?;
        let Principal::User { id: user, .. } = actor.principal() else {
            return Ok(Items { items: Vec::new() });
        };
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let open = tx
            .unacknowledged_in_force(*user, MAX_TO_ACKNOWLEDGE)
            .await?;
        let items = open
            .into_iter()
            .map(|v| PolicyToAcknowledge {
                policy_id: v.policy.to_string(),
                title: v.title,
                version: v.version,
                effective_date: format_date(v.effective_date),
                approved_at: v.approved_at,
            })
            .collect();
        Ok(Items { items })
    }

    /// A version as a PDF (rendered in-process, off the request's thread).
    pub async fn policy_pdf(
        &self,
        actor: &Actor,
        id: &str,
        version: &str,
    ) -> ServiceResult<(String, Vec<u8>)> {
        let permit = authorize(actor, Action::ReadRecords(POLICIES.read_role))?;
        let id = parse_id(id)?;
        let number = version_no(version)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        policy(&mut *tx, id).await?;
        let v = tx
            .policy_version(id, number)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let approver = match v.approved_by.parse() {
            Ok(user) => tx
                .member(user)
                .await?
                .map_or_else(|| v.approved_by.clone(), |(_, u)| u.email.to_string()),
            Err(_) => v.approved_by.clone(),
        };
        drop(tx);
        let organization = self.org_name(actor).await?;
        let filename = format!("policy-{id}-v{}.pdf", v.version);
        let doc = PolicyDocument {
            version: v,
            approver,
            organization,
        };
        let bytes = tokio::task::spawn_blocking(move || render(&doc))
            .await
            .map_err(|e| ServiceError::Internal(e.into()))??;
        Ok((filename, bytes))
    }
}

fn render(doc: &PolicyDocument) -> ServiceResult<Vec<u8>> {
    let v = &doc.version;
    let page = tater_export::PolicyPdf {
        organization: &doc.organization,
        title: &v.title,
        version: v.version,
        category: v.category.as_deref(),
        owner: v.owner.as_deref(),
        effective_date: &format_date(v.effective_date),
        approved_by: &doc.approver,
        approved_at: &v.approved_at.to_string(),
        sha256: &v.sha256,
        body: &v.body,
    };
    tater_export::policy_pdf(&page).map_err(|e| match e {
        tater_export::PdfError::Unsupported(chars) => ServiceError::ConflictCode(
            "PDF_UNSUPPORTED_CHARACTERS",
            format!(
                "the PDF fonts cover Latin, Greek and Cyrillic scripts but not these characters \
                 of the version: {chars} (its text is whole through GET …/versions/{{version}})"
            ),
        ),
        other => ServiceError::Internal(other.into()),
    })
}

/// Every published version of every policy, each with its text and acknowledgements, one
/// at a time (for the organization's export, `policy-versions.json`).
pub(crate) struct PolicyVersionExport {
    service: Service,
    permit: tater_domain::Permit,
    /// Versions still to read, as `(policy, version)`.
    queue: Vec<(RecordId, u32)>,
}

impl PolicyVersionExport {
    pub(crate) async fn new(service: &Service, actor: &Actor) -> ServiceResult<Self> {
        let permit = authorize(actor, Action::ExportAll)?;
        let mut queue = Vec::new();
        let ids = service.all_record_ids(actor, &POLICIES).await?;
        let mut tx = service.store.tenant(&permit.read_only()).await?;
        for id in ids {
            let newest = tx.policy_versions(id, 1).await?;
            let count = newest.first().map_or(0, |v| v.version);
            queue.extend((1..=count).map(|v| (id, v)));
        }
        drop(tx);
        queue.reverse();
        Ok(Self {
            service: service.clone(),
            permit,
            queue,
        })
    }

    async fn next(&mut self) -> ServiceResult<Option<Vec<Value>>> {
        let Some((policy, number)) = self.queue.pop() else {
            return Ok(None);
        };
        let mut tx = self.service.store.tenant(&self.permit.read_only()).await?;
        let Some(v) = tx.policy_version(policy, number).await? else {
            // Deleted with its policy since the export began.
            return Ok(Some(Vec::new()));
        };
        let acks = tx
            .policy_acknowledgements(policy, number, MAX_ACKNOWLEDGEMENTS)
            .await?;
        let acknowledgements: Vec<Value> = acks
            .iter()
            .map(|a| {
                json!({ "userId": a.user.to_string(), "email": a.email, "acknowledgedAt": a.at })
            })
            .collect();
        let mut view = serde_json::to_value(version_view(
            &v,
            false,
            u32::try_from(acks.len()).unwrap_or(u32::MAX),
            0,
        ))
        .map_err(|e| ServiceError::Internal(e.into()))?;
        if let Some(o) = view.as_object_mut() {
            // Rates belong to the moment they are read; the export keeps the facts.
            for key in ["inForce", "members", "acknowledgementRate", "acknowledged"] {
                o.remove(key);
            }
            o.insert("body".into(), Value::String(v.body));
            o.insert(
                "transitionId".into(),
                Value::String(v.transition.to_string()),
            );
            o.insert("acknowledgements".into(), Value::Array(acknowledgements));
        }
        Ok(Some(vec![view]))
    }
}

impl crate::list_export::PagedSource for PolicyVersionExport {
    fn next_page(&mut self) -> crate::list_export::NextPage<'_> {
        Box::pin(self.next())
    }
}
