//! Tater's use cases. Every channel (REST, MCP, AI, agent, jobs) calls these functions with an
//! [`Actor`](tater_domain::Actor); each one checks the policy, scopes to the actor's tenant,
//! validates input and writes the change with its audit entry in one transaction.

mod admin;
mod ai_actions;
mod ai_analyst;
mod ai_conversations;
mod ai_history;
mod ai_settings;
pub use admin::{OrgStatus, OrgView};
pub use ai_analyst::{
    AnalystEvent, AnalystEvents, ExchangeView, MAX_QUESTION_CHARS, MAX_ROUNDS, MAX_TOOL_CALLS,
    MessageInput, Question,
};
pub use ai_conversations::{
    ActionState, ActionView, ConversationDetail, ConversationView, MAX_CONVERSATIONS_PAGE,
    MessageView, Speaker, ToolCallView,
};
pub use ai_settings::{
    AiConfig, AiSettingsView, DEFAULT_AI_RETENTION_DAYS, DEFAULT_ANTHROPIC_BASE_URL,
    DEFAULT_ANTHROPIC_MODEL, KeySource,
};
pub use evidence_agent::{
    DRAFTS_PER_CONTROL, EvidenceJobInput, EvidenceJobView, JobState, MAX_JOB_CONTROLS,
};
pub use evidence_coverage::{Coverage, MAX_COVERAGE_EVIDENCE};
pub use evidence_files::{
    DEFAULT_FILE_TYPES, DEFAULT_MAX_FILE_BYTES, EvidenceFileView, FilesConfig,
    MAX_FILES_PER_EVIDENCE, OpenedFile, files_config,
};
mod access_review_apply;
mod agent_releases;
mod api_keys;
mod audit_log;
mod audit_snapshots;
mod auditor_access;
mod auth;
mod change_votes;
mod clock;
mod comments;
mod config_docs;
mod controls;
mod data_export;
mod download_links;
mod endpoints;
mod entra;
mod entra_sign_in;
mod error;
mod evidence_agent;
mod evidence_coverage;
mod evidence_files;
mod expiring_exceptions;
mod failing_controls;
mod identity_verification;
mod invitations;
mod jobs;
mod links;
mod mail;
mod mcp_policy;
pub use invitations::{Joined, ReceivedInvitation};
pub use jobs::{JobView, Remediation};
mod holdings;
mod list_export;
mod members;
mod paging;
mod people_members;
mod poam_export;
mod policy_versions;
mod posture;
mod record_counts;
mod record_history_export;
mod records;
mod reminders;
mod retention;
mod retention_settings;
pub use retention_settings::{
    DEAD_LETTER_DAYS, ENROLLMENT_TOKEN_DAYS, PAGE_VIEW_DAYS, RetentionBounds, RetentionPeriod,
    RetentionPolicy, RetentionView,
};
mod runner;
mod scan_results;
mod scans;
mod secrets;
mod settings;
mod siem_destinations;
mod ssp;
mod status;
mod system_profile;
mod telemetry;
mod termination;
mod transition_effects;
mod transitions;
mod usage;
pub mod use_cases;
mod web_sessions;

use std::sync::Arc;

use tater_store::Store;

pub use access_review_apply::{ItemOutcome, MAX_REVIEW_ITEMS, ReviewApplied};
pub use admin::{AdminOrgRef, NewApiKey, SystemOperator};
pub use agent_releases::{AgentArtifact, AgentVersion};
pub use agent_releases::{DEFAULT_KIND, MAX_RELEASE_BYTES, download_file_name, parse_version};
pub use api_keys::{ApiKeyView, CreatedApiKey, Items, KeyStatus, api_key_view};
pub use audit_log::{AuditExport, audit_entry_view};
pub use audit_snapshots::{MAX_SNAPSHOT_EVIDENCE, MAX_SNAPSHOTS, SnapshotView};
pub use auditor_access::{
    AuditorAuditView, AuditorTokenStatus, AuditorTokenView, CreateAuditorToken,
    CreatedAuditorToken, MAX_AUDITOR_TOKEN_DAYS,
};
pub use auth::{
    ActiveOrganization, BearerType, Credential, Identity, KeyRef, LoginToken, MIN_PASSWORD_LEN,
    MeView, MembershipView, UserView, hash_password,
};
pub use change_votes::{ChangeVotes, VoteChoice, VoteInput, VoteView};
pub use clock::{Clock, FixedClock, SystemClock};
pub use comments::{COMMENTS_LIMIT, CommentInput, CommentList, CommentView, MAX_COMMENT_BODY};
pub use controls::{
    CheckView, ControlView, FrameworkView, MappedControl, Origin, OverlayMeta, ParamView, PoamRef,
    Provenance,
};
pub use data_export::OrgArchive;
pub use download_links::{DownloadLink, LINK_TTL_SECS, Redeemed};
pub use endpoints::{
    CreatedEnrollmentToken, EndpointDetail, EndpointView, EnrollRequest, Enrolled,
    EnrollmentTokenView, TokenStatus, endpoint_view,
};
pub use entra::{DEFAULT_JWKS_URL, EntraConfig};
pub use entra_sign_in::{
    CALLBACK_PATH as ENTRA_CALLBACK_PATH, DEFAULT_AUTHORITY as DEFAULT_ENTRA_AUTHORITY,
    DEFAULT_SIGN_IN_TENANT as DEFAULT_ENTRA_SIGN_IN_TENANT, EntraRedirect, EntraSignInConfig,
    FLOW_TTL_SECS as ENTRA_FLOW_TTL_SECS,
};
pub use error::{ServiceError, ServiceResult};
pub use identity_verification::{
    IdentityVerified, VerificationConfig, VerificationSent, VerifyIdentity,
};
pub use jobs::AgentCommand;
pub use links::{LinkEndView, LinkInput, LinkList, LinkTarget, LinkView, MAX_LINKS, record_label};
pub use list_export::{ExportList, ListExport, NextPage, OnePage, PagedSource};
pub use mail::{MailConfig, Mailer};
pub use mcp_policy::{McpMode, McpPolicy, RoleAllowlists};
pub use members::{INVITATION_TTL_SECS, InvitationView, MemberView, invitation_view, member_view};
pub use policy_versions::{
    Acknowledged, AcknowledgementReport, AcknowledgementView, OutstandingMember,
    PolicyToAcknowledge, PolicyVersionView,
};
pub use posture::{
    EndpointCounts, EndpointPosture, FailingControl, FamilyPosture, FrameworkPosture,
    PostureTotals, PostureTrend, PostureView, Summary, TrendLatest, TrendPoint,
};
pub use record_counts::{MAX_GROUPS, RecordCounts, ValueCount, countable};
pub use records::{HeatMap, HeatMapAxes, HeatMapView, Page, RecordExport, to_values};
pub use retention::{Forgotten, Swept};
pub use runner::{MAX_ATTEMPTS, RunnerOptions, RunnerRound};
pub use scan_results::LatestResultView;
pub use scans::{Ingested, IngestedScan, ScanDetail, ScanResultView, ScanView};
pub use secrets::{API_KEY_PREFIX, generate_api_key, hash_api_key, is_well_formed_api_key};
pub use siem_destinations::{
    DeadLetterView, DeliveryHealth, DeliveryView, DestinationSettings, DestinationView, Replayed,
    SiemSupport, TestDelivery, destination_view,
};
pub use status::StatusView;
pub use telemetry::{PAGE_VIEW_TTL_DAYS, PageViewCount};
pub use termination::{DeletionCertificateView, LifecycleConfig, MAX_GRACE_DAYS};
pub use transitions::{
    HISTORY_LIMIT, MAX_COMMENT_CHARS, TransitionHistory, TransitionInput, TransitionView,
};
pub use usage::OrgUsageView;
pub use web_sessions::{NewWebSession, SignInToken, WebCaller, WebSessionConfig};

/// Settings the use cases need; the server fills them from flags and environment.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Signs local session tokens (HS256). At least 32 bytes.
    pub jwt_secret: Vec<u8>,
    /// How long a local session token lives.
    pub session_ttl_secs: i64,
    /// Entra ID sign-in, when configured.
    pub entra: Option<EntraConfig>,
    /// The control catalog; `None` means the built-in one, loaded on first use.
    pub catalog: Option<Arc<tater_catalog::Catalog>>,
    /// The check catalog; `None` means the built-in one.
    pub checks: Option<Arc<tater_catalog::CheckCatalog>>,
    pub compliance: ComplianceConfig,
    /// Keys that verify audit signatures (the store signs with the same configuration).
    pub audit_keys: tater_audit::AuditKeys,
    /// SIEM destinations (egress, secrets); `None` where forwarding is not offered (the CLI).
    pub siem: Option<SiemSupport>,
    /// Verifying API key owners by emailed code (MCP writes).
    pub verification: VerificationConfig,
    /// How long web application sessions last.
    pub web: WebSessionConfig,
    /// Where evidence files go and what is accepted.
    pub files: FilesConfig,
    /// How the AI features reach Anthropic.
    pub ai: AiConfig,
    /// How organizations end (termination grace, the key that certifies deletions).
    pub lifecycle: termination::LifecycleConfig,
}

/// Knobs of the compliance engine.
#[derive(Debug, Clone, Copy)]
pub struct ComplianceConfig {
    /// An active endpoint without contact for this long is flagged stale.
    pub stale_after_secs: i64,
    /// The longest a risk acceptance may run, in days.
    pub max_acceptance_days: i64,
    /// A command not fetched by its agent within this long expires.
    pub job_ttl_secs: i64,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            stale_after_secs: 7 * 24 * 3600,
            max_acceptance_days: 365,
            job_ttl_secs: 24 * 3600,
        }
    }
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("jwt_secret", &"[redacted]")
            .field("session_ttl_secs", &self.session_ttl_secs)
            .finish()
    }
}

/// The use cases, shared by every channel. Cheap to clone: one reference count. A request
/// clones it several times on its way through the router (each route's handler, each
/// `State` extractor); a clone of every field took a fifth of the server's time at
/// `/api/status` under load.
#[derive(Clone)]
pub struct Service(Arc<Shared>);

/// What every clone of a [`Service`] shares (reached through `Deref`).
pub struct Shared {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    auth: Arc<auth::AuthKeys>,
    catalog: Option<Arc<tater_catalog::Catalog>>,
    checks: Option<Arc<tater_catalog::CheckCatalog>>,
    compliance: ComplianceConfig,
    audit_keys: Arc<tater_audit::AuditKeys>,
    siem: Option<Arc<SiemSupport>>,
    /// Agent release bytes shared by the downloads in flight.
    releases: Arc<agent_releases::ReleaseCache>,
    verification: Arc<VerificationConfig>,
    mailer: Option<Arc<Mailer>>,
    /// Organizations' MCP tool policies, read recently.
    mcp_policies: Arc<mcp_policy::PolicyCache>,
    web: WebSessionConfig,
    files: Arc<FilesConfig>,
    ai: Arc<AiConfig>,
    /// The Messages API, at the operator's base URL.
    anthropic: tater_anthropic::Client,
    lifecycle: termination::LifecycleConfig,
}

impl std::ops::Deref for Service {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> anyhow::Result<Self> {
        let auth = Arc::new(auth::AuthKeys::new(&config, clock.clone())?);
        let catalog = config.catalog.clone();
        let compliance = config.compliance;
        let checks = config.checks.clone();
        let audit_keys = Arc::new(config.audit_keys.clone());
        let siem = config.siem.clone().map(Arc::new);
        let mailer = identity_verification::mailer(&config.verification)?.map(Arc::new);
        anyhow::ensure!(
            config.verification.verified_secs > 0,
            "the identity verification window must be positive"
        );
        anyhow::ensure!(
            config.web.idle_secs > 0 && config.web.absolute_secs >= config.web.idle_secs,
            "web sessions need a positive idle timeout no longer than their lifetime"
        );
        Ok(Self(Arc::new(Shared {
            store,
            clock,
            auth,
            catalog,
            checks,
            compliance,
            audit_keys,
            siem,
            releases: Default::default(),
            verification: Arc::new(config.verification),
            mailer,
            mcp_policies: Default::default(),
            web: config.web,
            files: Arc::new(config.files),
            anthropic: tater_anthropic::Client::new(&config.ai.base_url)?,
            lifecycle: config.lifecycle.clone(),
            ai: Arc::new(config.ai),
        })))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> tater_domain::Timestamp {
        self.clock.now()
    }
}
