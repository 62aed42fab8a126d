//! The typed inputs of the use cases that are not module records. Each is the one JSON object
//! a channel passes: REST splits it into the path, the query and the body; MCP passes it whole.
//! Unknown fields are refused.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tater_domain::{AuditAction, Channel, CheckStatus, Role, Timestamp};

/// No input.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

/// One thing by its id.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ById {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
}

/// A member's message to the analyst in one of their conversations.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiMessageRequest {
    /// The conversation.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// The question or instruction (at most 20,000 characters).
    pub content: String,
}

/// A move of a record in its module's status flow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub to: String,
    pub comment: Option<String>,
}

impl TransitionRequest {
    /// The record's id, and the move as the service takes it.
    pub fn split(self) -> (String, crate::TransitionInput) {
        let input = crate::TransitionInput {
            to: self.to,
            comment: self.comment,
        };
        (self.id, input)
    }
}

/// A comment to add to a record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// The record's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// Markdown.
    #[schemars(length(min = 1, max = 16000))]
    pub body: String,
}

/// A board member's vote on a submitted change request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// The change request's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub vote: crate::VoteChoice,
    /// Why (Markdown).
    #[schemars(length(max = 4000))]
    pub comment: Option<String>,
}

/// A link to make from a record to another record or a control.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The record's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// The other end: a module's record, or a control (`{"module": "controls", "id": "ac-2"}`).
    pub to: crate::LinkTarget,
}

/// One link of a record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkRef {
    /// The record's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub link_id: String,
}

/// One move of a record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransitionRef {
    /// The record's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub transition_id: String,
}

/// One control, by its id in either spelling (`ac-2.1` or `AC-2(1)`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlRef {
    /// The control id, e.g. ac-2.1 or AC-2(1).
    pub id: String,
}

/// One page of a list that has no filters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Page size.
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// nextCursor of the previous page.
    pub cursor: Option<String>,
}

/// The format of a list export.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListFileFormat {
    Csv,
    Json,
}

/// A list's export: every row, as a file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListExportInput {
    /// json (default) or csv.
    pub format: Option<ListFileFormat>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateApiKey {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Lower the key's role below yours.
    pub role: Option<Role>,
    /// RFC 3339, in the future, within five years.
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEnrollmentToken {
    /// What the token is for, e.g. "laptop rollout".
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub label: String,
    /// Hours until it expires (default 24, at most 720).
    #[schemars(range(min = 1, max = 720))]
    pub expires_in_hours: Option<i64>,
    /// Works for one enrolment only.
    #[serde(default)]
    pub single_use: bool,
    /// The only host names this token enrolls (default: any).
    #[schemars(length(min = 1, max = 500))]
    pub hostnames: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatusFilter {
    Active,
    Retired,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointsQuery {
    /// Active or retired endpoints only.
    pub status: Option<EndpointStatusFilter>,
    /// No contact within the stale window.
    pub stale: Option<bool>,
    /// Endpoints that have sent at least one scan, or none yet.
    pub scanned: Option<bool>,
    /// Text in the hostname.
    #[schemars(length(max = 200))]
    pub q: Option<String>,
    /// Page size.
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// nextCursor of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointTags {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(length(max = 50), inner(length(min = 1, max = 64)))]
    pub tags: Vec<String>,
    /// The version you read; a concurrent change answers a conflict.
    pub version: Option<i64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanResultsQuery {
    /// Result status.
    pub status: Option<CheckStatus>,
    /// Endpoint id.
    pub endpoint: Option<String>,
    /// Check id.
    pub check: Option<String>,
    /// Control id: the checks mapped to it.
    pub control: Option<String>,
    /// Page size.
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// nextCursor of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteScript {
    /// The script's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// Host names of the endpoints to run it on.
    #[schemars(length(min = 1, max = 500))]
    pub targets: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    /// The person's email address.
    #[schemars(extend("format" = "email"))]
    pub email: String,
    /// Never above your own.
    pub role: Role,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    /// The member's user id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateOrganization {
    #[schemars(length(max = 200))]
    pub name: String,
    /// The Entra ID tenant whose people may sign in to it.
    #[schemars(extend("format" = "uuid"))]
    pub entra_tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    /// Inclusive start (RFC 3339 or YYYY-MM-DD).
    pub from: Option<String>,
    /// Exclusive end.
    pub to: Option<String>,
    /// Points at most.
    #[schemars(range(min = 1, max = 5000))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoamFromControl {
    /// The failing control's id.
    pub control: String,
    /// When the weakness should be fixed.
    #[schemars(extend("format" = "date"))]
    pub scheduled_completion: Option<String>,
}

/// A task to fix a control that is failing now.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskFromControl {
    /// The failing control's id.
    pub control: String,
    /// Who should fix it (an e-mail address).
    #[schemars(extend("format" = "email"))]
    pub assignee: Option<String>,
    /// By when.
    #[schemars(extend("format" = "date"))]
    pub due_date: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RatingKind {
    Inherent,
    Residual,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeatMapQuery {
    /// Inherent (default) or residual ratings.
    pub kind: Option<RatingKind>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrgSettings {
    /// Admins may run scripts on endpoints (off by default).
    pub remote_execution: bool,
    /// The e-mail address of the member (Admin or above) who gives High and Critical
    /// exceptions their second approval; `""` for nobody (they then wait in Second Approval
    /// until one is named); left out or `null`, unchanged.
    #[serde(default)]
    #[schemars(length(max = 254))]
    pub exception_approver: Option<String>,
    /// The AI features (the analyst, the Evidence Agent) may run; off by default. Left out
    /// or `null`, unchanged; always in answers.
    #[serde(default)]
    pub ai_enabled: Option<bool>,
}

/// The organization's Anthropic API key and model (OrgAdmin). The key is stored sealed and
/// never shown again: answers name only its last four characters and when it was set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AiSettingsInput {
    /// An Anthropic API key (`sk-ant-…`); left out to change only the model.
    #[schemars(length(min = 20, max = 300), extend("writeOnly" = true))]
    pub api_key: Option<String>,
    /// The model id the organization's AI features use; left out or `null`: the server's
    /// default.
    #[schemars(length(min = 1, max = 100))]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImplementationFilter {
    Unset,
    Implemented,
    Partial,
    Planned,
    Alternative,
    NotApplicable,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApplicabilityFilter {
    Applicable,
    NotApplicable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceFilter {
    Covered,
    Uncovered,
}

/// Which failing controls: any, or those whose worst failed check has this severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum FailingFilter {
    #[serde(rename = "any")]
    Any,
    Critical,
    High,
    Medium,
    Low,
}

impl FailingFilter {
    /// Whether a control failing at worst with `severity` is wanted.
    pub fn admits(self, severity: &str) -> bool {
        match self {
            FailingFilter::Any => true,
            FailingFilter::Critical => severity == "Critical",
            FailingFilter::High => severity == "High",
            FailingFilter::Medium => severity == "Medium",
            FailingFilter::Low => severity == "Low",
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlsQuery {
    /// Framework id (see frameworks_list).
    pub framework: Option<String>,
    /// Control family, e.g. ac.
    pub family: Option<String>,
    /// Implementation status from the overlay.
    pub status: Option<ImplementationFilter>,
    /// Applicability from the overlay.
    pub applicability: Option<ApplicabilityFilter>,
    /// Withdrawn controls only, or none.
    pub withdrawn: Option<bool>,
    /// Controls with current evidence (accepted, still valid), or without any.
    pub evidence: Option<EvidenceFilter>,
    /// Controls failing now (a failed latest result on an active endpoint, accepted risks
    /// applied): any, or by the worst severity among their failed checks.
    pub failing: Option<FailingFilter>,
    /// Text in id, label, title or statement.
    #[schemars(length(max = 200))]
    pub q: Option<String>,
    /// Page size.
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// nextCursor of the previous page.
    pub cursor: Option<String>,
}

/// Which audit entries.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditFilters {
    /// The channel the change came through.
    pub via: Option<Channel>,
    /// The actor's user id (or system:<name>).
    #[schemars(length(min = 1, max = 200))]
    pub user_id: Option<String>,
    /// e.g. poam, risk, config-doc, user, membership, api-key, organization.
    #[schemars(length(min = 1, max = 200))]
    pub entity_type: Option<String>,
    /// Id of the changed entity.
    #[schemars(length(min = 1, max = 200))]
    pub entity_id: Option<String>,
    /// Kind of change.
    pub action: Option<AuditAction>,
    /// Inclusive start (RFC 3339 or YYYY-MM-DD).
    pub from: Option<String>,
    /// Exclusive end (RFC 3339 or YYYY-MM-DD).
    pub to: Option<String>,
}

/// (serde cannot refuse unknown fields next to a flattened struct; the service's own
/// validation refuses them.)
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AuditQuery {
    #[serde(flatten)]
    pub filters: AuditFilters,
    /// Page size.
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// nextCursor of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditFileFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AuditExportInput {
    #[serde(flatten)]
    pub filters: AuditFilters,
    /// jsonl (default) or csv.
    pub format: Option<AuditFileFormat>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SspFormat {
    OscalJson,
    Docx,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SspInput {
    /// oscal-json (default) or docx.
    pub format: Option<SspFormat>,
}

/// One snapshot of an audit.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotRef {
    /// The audit's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub snapshot_id: String,
}

/// One snapshot of the audit an auditor token opens.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditorSnapshotRef {
    #[schemars(extend("format" = "uuid"))]
    pub snapshot_id: String,
}

/// One auditor token of an audit.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditorTokenRef {
    /// The audit's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub token_id: String,
}

/// An auditor token to make for an audit.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAuditorTokenRequest {
    /// The audit's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[serde(flatten)]
    pub token: crate::CreateAuditorToken,
}

/// One file of an evidence record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileRef {
    /// The evidence record's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    #[schemars(extend("format" = "uuid"))]
    pub file_id: String,
}

/// One published version of a policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyVersionRef {
    /// The policy's id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// The version's number (1 for the first publication).
    #[schemars(range(min = 1))]
    pub version: u32,
}
