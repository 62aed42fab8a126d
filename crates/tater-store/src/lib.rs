//! Tater's storage: one [`Store`] trait, two engines.
//!
//! * SQLite (embedded, the default) and PostgreSQL (scale-out) implement the same traits from
//!   one body of SQL (`engine/`, one module per capability, generic over the `Driver` of
//!   `driver.rs`), with migrations per engine under `migrations/`.
//! * Tenant data is reachable only through [`Store::tenant`], which takes the [`Permit`] that
//!   `authorize` hands out; every query it runs is filtered by the permit's tenant. On PostgreSQL the
//!   transaction also sets `tater.tenant_id`, and row-level security refuses any row of another
//!   tenant even if a query forgot its filter.
//! * Every write method takes the audit entry that describes it and writes both in the same
//!   transaction (SPEC L1); there is no write without an audit entry.

mod driver;
mod engine;

mod error;
mod postgres;
mod sql;
mod sqlite;
mod sqlite_read;

pub use sqlite_read::ReadStats;

use async_trait::async_trait;
use serde_json::Value;
use tater_domain::module::{
    LinkEnd, ListQuery, Record, RecordComment, RecordLink, RecordTransition,
};
use tater_domain::{
    ApiKey, ApiKeyId, AuditAction, AuditDraft, AuditEntry, Channel, CheckStatus, CommentId, Email,
    Endpoint, EndpointId, EnrollmentToken, EnrollmentTokenId, IdentityCode, IdentityCodeId,
    Invitation, InvitationId, InvitationStatus, LinkId, Membership, Org, OrgId, RecordId, Role,
    Scan, ScanId, ScanResult, TenantScope, Timestamp, TransitionId, User, UserId, WebSession,
};

pub use error::StoreError;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use tater_audit;
pub use tater_domain::{Mode, Permit};

/// Whether a tenant transaction opens on a terminated organization: only for the
/// organization's full export, which its OrgAdmins may still take during the grace period.
pub(crate) fn open_when_terminated(permit: &Permit) -> bool {
    permit.opens_terminated()
}

/// The SQLSTATE PostgreSQL's `tater_enter_tenant` raises for a terminated organization.
pub(crate) const ORG_TERMINATED_SQLSTATE: &str = "TT403";

/// The capability traits of a tenant transaction, to import together: `use tater_store::tx::*;`.
pub mod tx {
    pub use crate::{
        AiTx, AuditTx, AuditingTx, EndpointsTx, JobsTx, LinksTx, MembersTx, PoliciesTx, RecordsTx,
        ScansTx, SettingsTx, SiemTx, TenantTx, VerificationTx, WebSessionTx,
    };
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Opens the store named by `url`: `postgres://` or `postgresql://` selects PostgreSQL,
/// `sqlite:` a SQLite file. Migrations run before it returns.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    open_with(url, AuditSettings::unsigned()).await
}

/// [`open`] with audit sealing settings (signing keys, checkpoint interval).
pub async fn open_with(url: &str, audit: AuditSettings) -> Result<std::sync::Arc<dyn Store>> {
    let audit = std::sync::Arc::new(audit);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PgStore::connect(url, audit).await?))
    } else if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::connect(url, audit).await?))
    } else {
        Err(StoreError::Config(
            "the database URL must start with postgres://, postgresql:// or sqlite:".into(),
        ))
    }
}

/// The storage behind every channel.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn engine(&self) -> Engine;

    /// Begins a transaction on one tenant's data: the organization and the mode (read, or
    /// write with rows locked) come from the permit `authorize` gave for the action.
    ///
    /// ```
    /// # async fn use_case(store: &dyn tater_store::Store, actor: &tater_domain::Actor)
    /// #     -> Result<(), Box<dyn std::error::Error>> {
    /// let permit = tater_domain::authorize(actor, tater_domain::Action::Read)?;
    /// let tx = store.tenant(&permit).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Without a permit there is no transaction: an actor, an organization id or a scope
    /// does not open one.
    ///
    /// ```compile_fail
    /// # async fn use_case(store: &dyn tater_store::Store, actor: &tater_domain::Actor)
    /// #     -> Result<(), Box<dyn std::error::Error>> {
    /// let tx = store.tenant(actor).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// ```compile_fail
    /// # async fn use_case(store: &dyn tater_store::Store, actor: &tater_domain::Actor)
    /// #     -> Result<(), Box<dyn std::error::Error>> {
    /// let scope = tater_domain::TenantScope::of(actor);
    /// let tx = store.tenant(&scope).await?;
    /// # Ok(()) }
    /// ```
    async fn tenant(&self, permit: &Permit) -> Result<Box<dyn TenantTx>>;

    /// Begins a transaction on identity data (organizations, users, memberships, API keys).
    /// Authentication must find a user's memberships before it knows the tenant, and the
    /// operator's CLI works across tenants, so this is the one named cross-tenant entry point
    /// (SPEC T2); it exposes no module records.
    async fn identity(&self, mode: Mode) -> Result<Box<dyn IdentityTx>>;

    /// Begins the SIEM delivery worker's transaction: claims, outbox reads and delivery state
    /// across all tenants (SPEC T2: a named system operation, used only by the worker).
    async fn delivery(&self) -> Result<Box<dyn DeliveryTx>>;

    /// Begins the background job runner's transaction: queueing, leasing and finishing jobs
    /// across all tenants (SPEC T2: a named system operation, used only by the runner). It
    /// reads no tenant data; the jobs it hands out act through [`Store::tenant`].
    async fn runner(&self) -> Result<Box<dyn RunnerTx>>;

    /// Checks the database answers (for `/healthz` and the status endpoint).
    async fn ping(&self) -> Result<()>;

    /// The connection pool's size and use (for metrics).
    fn pool_stats(&self) -> PoolStats;

    /// Writes a consistent copy of the whole database to `path` (a new file) while others
    /// keep writing: SQLite's `VACUUM INTO`. PostgreSQL refuses: `pg_dump` and point-in-time
    /// recovery are its tools.
    async fn copy_into(&self, path: &std::path::Path) -> Result<()>;

    /// After a bulk delete (an organization's), makes the deleted content unrecoverable from
    /// the database's files: SQLite (which overwrites deleted content, `secure_delete`)
    /// checkpoints its write-ahead log and truncates it, so no earlier page image stays in
    /// it; PostgreSQL vacuums the tables so the dead rows' space is reclaimed.
    async fn scrub(&self) -> Result<()>;

    /// Closes the pool, waiting for connections in use to be returned.
    async fn close(&self);
}

/// Filters of the audit log (SPEC L3), newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub via: Option<Channel>,
    pub user_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<AuditAction>,
    /// Inclusive lower bound.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound.
    pub to: Option<Timestamp>,
    /// Only entries with a smaller sequence number (the cursor).
    pub before_seq: Option<i64>,
    /// Only entries with a larger sequence number (exports walk forward).
    pub after_seq: Option<i64>,
    /// Only entries up to this sequence number (an export's snapshot of the head).
    pub upto_seq: Option<i64>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    pub limit: u32,
}

/// An outbox entry that could not be delivered, kept for the operator to see and replay.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub seq: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: Option<Timestamp>,
}

/// A destination the worker has leased for a round of delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDestination {
    pub org: OrgId,
    pub id: tater_domain::DestinationId,
    pub kind: tater_domain::DestinationKind,
    pub config: Value,
    pub secret_enc: Option<String>,
    /// Consecutive failed attempts so far.
    pub attempts: i64,
    pub failing_since: Option<Timestamp>,
}

/// One SIEM destination's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub org: OrgId,
    pub org_name: String,
    pub destination: tater_domain::DestinationId,
    /// Entries waiting (not dead).
    pub pending: i64,
    /// When the oldest of them was written.
    pub oldest: Option<Timestamp>,
}

/// The connection pool right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (in use or idle).
    pub open: u32,
    pub idle: u32,
    pub max: u32,
    /// SQLite's read path (`None` on PostgreSQL, where reads share the pool).
    pub reads: Option<ReadStats>,
}

/// The delivery worker's transaction. Dropping it without commit rolls back.
#[async_trait]
pub trait DeliveryTx: Send {
    /// Leases up to `limit` enabled destinations that have pending entries and are due,
    /// skipping those another worker holds (on PostgreSQL, also rows being claimed right now)
    /// and those of terminated organizations (their entries wait: a cancelled termination
    /// delivers them, a deletion deletes them).
    async fn claim_due(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDestination>>;
    /// Each enabled destination with its organization, how many entries wait for it and
    /// since when (the operator's view of the queue), at most `limit`.
    async fn queue_depths(&mut self, limit: u32) -> Result<Vec<QueueDepth>>;
    /// The oldest pending entries of a destination, in sequence order.
    async fn pending(
        &mut self,
        org: OrgId,
        id: tater_domain::DestinationId,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Entries through `through_seq` were accepted: drop them from the outbox.
    async fn delivered(
        &mut self,
        org: OrgId,
        id: tater_domain::DestinationId,
        through_seq: i64,
        count: i64,
        now: Timestamp,
    ) -> Result<()>;
    /// Delivering `seq` failed and will be retried at `retry_at`.
    async fn failed(
        &mut self,
        org: OrgId,
        id: tater_domain::DestinationId,
        seq: i64,
        error: &str,
        now: Timestamp,
        retry_at: Timestamp,
    ) -> Result<()>;
    /// `seq` was refused for good: keep it as a dead letter and go on.
    async fn dead(
        &mut self,
        org: OrgId,
        id: tater_domain::DestinationId,
        seq: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<()>;
    /// Gives the lease back.
    async fn release(
        &mut self,
        org: OrgId,
        id: tater_domain::DestinationId,
        owner: &str,
    ) -> Result<()>;
    /// Gives back every lease `owner` holds (a worker stopping cleanly).
    async fn release_all(&mut self, owner: &str) -> Result<u64>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Work to queue for the background runner.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRunnerJob {
    /// The organization the work is for (`None`: the whole server, such as planning).
    pub org: Option<OrgId>,
    /// What to do (the payload's type).
    pub kind: String,
    /// Unique across all jobs ever queued: the same key is queued once, however many
    /// replicas plan it.
    pub idempotency_key: String,
    pub payload: Value,
    /// Not before.
    pub run_at: Timestamp,
}

/// A job the runner leased.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerJob {
    pub id: String,
    pub org: Option<OrgId>,
    pub kind: String,
    pub idempotency_key: String,
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// Where a runner job stands, for operators and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerJobState {
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Until when a runner holds it (while it runs).
    pub lease_until: Option<Timestamp>,
}

/// The background runner's transaction. Dropping it without commit rolls back.
#[async_trait]
pub trait RunnerTx: Send {
    /// Queues a job unless one with its key was ever queued; whether it was new.
    async fn enqueue(&mut self, job: &NewRunnerJob, now: Timestamp) -> Result<bool>;
    /// Leases up to `limit` jobs that are due, or whose runner's lease ran out, for
    /// `lease_ms`; counts the attempt. On PostgreSQL rows another runner is claiming right
    /// now are skipped.
    async fn claim(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<RunnerJob>>;
    /// The job is done. `false` when `owner` no longer holds its lease (another runner took
    /// it over), so the caller knows its work may run twice.
    async fn finish(&mut self, id: &str, owner: &str, now: Timestamp) -> Result<bool>;
    /// Extends a running job's lease to `until` (never shortens it); `false` when `owner` no
    /// longer holds it.
    async fn renew(&mut self, id: &str, owner: &str, until: Timestamp) -> Result<bool>;
    /// The attempt failed: try again at `retry_at`, or, when `retry_at` is `None`, give up
    /// and keep the job as failed with its error.
    async fn fail(
        &mut self,
        id: &str,
        owner: &str,
        error: &str,
        now: Timestamp,
        retry_at: Option<Timestamp>,
    ) -> Result<()>;
    /// Gives back every lease `owner` holds (a runner stopping cleanly): its jobs are due
    /// again at once for another runner.
    async fn release_all(&mut self, owner: &str) -> Result<u64>;
    /// Deletes the done jobs of `kind` that finished before `before` (work whose key can
    /// never come again, such as an hour's plan); how many.
    async fn prune_done(&mut self, kind: &str, before: Timestamp) -> Result<u64>;
    /// Jobs due or running at `now` (work not yet done).
    async fn unfinished(&mut self, now: Timestamp) -> Result<i64>;
    /// When the longest-waiting queued job became due (none: nothing is waiting).
    async fn oldest_due(&mut self, now: Timestamp) -> Result<Option<Timestamp>>;
    /// A job's state by its idempotency key.
    async fn job_state(&mut self, idempotency_key: &str) -> Result<Option<RunnerJobState>>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// An organization's feature switches and designations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgSettings {
    /// Whether Admins may run scripts on endpoints (the command channel).
    pub remote_execution: bool,
    /// The e-mail address of the member who gives High and Critical exceptions their second
    /// approval.
    pub exception_approver: Option<String>,
    /// Whether the AI features may run for the organization (off until an OrgAdmin says).
    pub ai_enabled: bool,
}

/// The organization's own Anthropic API key, as stored: sealed, with what may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiKey {
    /// The key sealed under the master key for this organization (`SecretBox`).
    pub sealed: String,
    pub last4: String,
    pub set_at: Timestamp,
}

/// The organization's AI configuration besides the switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiSettings {
    pub key: Option<AiKey>,
    /// The model it chose; `None`: the server's default.
    pub model: Option<String>,
}

/// A member's conversation with the AI analyst (its turns are read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiConversation {
    pub id: tater_domain::ConversationId,
    /// The member it belongs to: nobody else reads it.
    pub user: UserId,
    pub title: String,
    pub created_at: Timestamp,
    /// The last message; the retention period counts from here.
    pub updated_at: Timestamp,
    /// Tokens the model read and wrote for it, in all.
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// One turn of a conversation as the Messages API takes it back: its role (`user` or
/// `assistant`) and its content blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct AiTurn {
    pub seq: i64,
    pub role: String,
    pub content: Value,
    pub at: Timestamp,
}

/// A write the analyst proposed: the tool and its exact arguments, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AiAction {
    pub id: tater_domain::AiActionId,
    pub conversation: tater_domain::ConversationId,
    pub tool: String,
    pub arguments: Value,
    /// `proposed`, then `confirmed` (it ran), `failed` (it ran and was refused) or
    /// `dismissed`.
    pub state: String,
    /// The tool's answer or its refusal, once decided.
    pub result: Option<Value>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// An Evidence Agent job: the controls asked for, those done, the drafts written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceJob {
    pub id: tater_domain::EvidenceJobId,
    /// The member who asked; the agent reads with their access.
    pub requested_by: UserId,
    pub controls: Vec<String>,
    pub done: Vec<String>,
    /// The draft evidence records written.
    pub drafts: Vec<RecordId>,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    pub error: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// Where a page of votes ends: a vote's key (module, record, round, voter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteKey {
    pub module: String,
    pub record_id: tater_domain::RecordId,
    pub round: tater_domain::TransitionId,
    pub voter: String,
}

/// A vote on a record put to a board (a change request before its CAB): one voter's, in one
/// round (the move that put the record to the vote).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordVote {
    pub record_id: tater_domain::RecordId,
    pub round: tater_domain::TransitionId,
    /// The voter's e-mail address, as the board lists them.
    pub voter: String,
    /// Audit `userId` of whoever cast it.
    pub cast_by: String,
    /// `approve`, `reject` or `abstain`.
    pub vote: String,
    pub comment: Option<String>,
    pub at: Timestamp,
}

/// Releases are stored in chunks of this many bytes, so reading one never needs a second
/// whole copy in memory.
pub const RELEASE_CHUNK_BYTES: usize = 1024 * 1024;

/// Which artifact a release row is: one per version, operating system, architecture and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleaseKey {
    pub version: String,
    pub os: String,
    pub arch: String,
    /// `exe` (the agent binary itself, on every OS) or `msi` (the Windows installer).
    pub kind: String,
}

impl ReleaseKey {
    /// The agent binary of `version` for `os`/`arch`.
    pub fn exe(version: &str, os: &str, arch: &str) -> Self {
        Self {
            version: version.to_owned(),
            os: os.to_owned(),
            arch: arch.to_owned(),
            kind: "exe".to_owned(),
        }
    }
}

impl std::fmt::Display for ReleaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{} {}",
            self.version, self.os, self.arch, self.kind
        )
    }
}

/// A published agent build (its bytes are fetched separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRelease {
    pub key: ReleaseKey,
    /// Lowercase hex SHA-256 of the binary.
    pub sha256: String,
    pub size: i64,
    /// Base64 Ed25519 signature over the binary, when the publisher signed it.
    pub signature: Option<String>,
    pub published_at: Timestamp,
}

/// How the store seals audit entries as it appends them.
#[derive(Debug, Clone, Default)]
pub struct AuditSettings {
    /// `AUDIT_SIGNING_KEY` (signs) and earlier keys (verify only).
    pub keys: tater_audit::AuditKeys,
    /// Every this-many entries of a tenant also get a checkpoint (0: none inline).
    pub checkpoint_every: i64,
}

impl AuditSettings {
    /// Unsigned entries, a checkpoint every 1,000 entries.
    pub fn unsigned() -> Self {
        Self {
            keys: tater_audit::AuditKeys::none(),
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
        }
    }
}

/// Entries between inline checkpoints, by default.
pub const DEFAULT_CHECKPOINT_EVERY: i64 = 1000;

/// Filters of the endpoint list, ordered by hostname.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointQuery {
    pub status: Option<String>,
    /// Substring of the hostname.
    pub q: Option<String>,
    /// Only endpoints whose hostname sorts after this one (the cursor).
    pub after_hostname: Option<String>,
    pub limit: u32,
}

/// How latest results are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultGroup {
    /// By check, status and severity.
    Check,
    /// By endpoint, status and severity.
    Endpoint,
}

/// Which latest results to count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultFilter {
    pub status: Option<CheckStatus>,
    pub checks: Option<Vec<String>>,
    pub endpoint: Option<EndpointId>,
    /// Only these endpoints (an empty list matches nothing).
    pub endpoints: Option<Vec<EndpointId>>,
}

/// How many active endpoints an organization has, and how many of them report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointTotals {
    pub active: u64,
    /// Active endpoints with at least one scan.
    pub reporting: u64,
    /// Active endpoints not seen since the time asked about (or never).
    pub stale: u64,
}

/// Where a page of latest results starts: after this (hostname, endpoint, check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultKey {
    pub hostname: String,
    pub endpoint: EndpointId,
    pub check_id: String,
}

/// One latest result with the endpoint and scan it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestResult {
    pub endpoint: EndpointId,
    pub hostname: String,
    pub scan: ScanId,
    pub result: ScanResult,
}

/// A count of latest results (the latest scan of each active endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultCount {
    pub endpoint: Option<EndpointId>,
    pub check_id: Option<String>,
    pub status: CheckStatus,
    pub severity: String,
    pub count: i64,
}

/// A transaction on one tenant's data, with every capability below. Dropping it without
/// [`TenantTx::commit`] rolls back. Service code names the capability traits it calls (they
/// are in [`tx`]), so a use case's imports say which kinds of tenant data it touches.
#[async_trait]
pub trait TenantTx:
    RecordsTx
    + LinksTx
    + AuditTx
    + AuditingTx
    + PoliciesTx
    + MembersTx
    + EndpointsTx
    + ScansTx
    + JobsTx
    + SettingsTx
    + SiemTx
    + AiTx
{
    fn scope(&self) -> TenantScope;

    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Module records (every declared module's rows).
#[async_trait]
pub trait RecordsTx: Send {
    async fn get_record(&mut self, module: &str, id: RecordId) -> Result<Option<Record>>;

    /// Up to `query.limit + 1` records, so the caller can tell whether another page exists.
    async fn list_records(&mut self, module: &str, query: &ListQuery) -> Result<Vec<Record>>;

    /// A page for a client: at most `query.limit` records and `max_bytes` of record data
    /// (at least one record), and whether more follow. Only the records returned are read.
    async fn page_records(
        &mut self,
        module: &str,
        query: &ListQuery,
        max_bytes: u64,
    ) -> Result<(Vec<Record>, bool)>;

    /// Counts the records that meet `filter`, grouped by the text value of `field` (absent
    /// values as `None`), largest groups first, at most `limit` groups; and how many records
    /// met `filter` in all.
    async fn count_grouped(
        &mut self,
        module: &str,
        field: &'static str,
        filter: &[tater_domain::module::Condition],
        limit: u32,
    ) -> Result<(Vec<(Option<String>, i64)>, i64)>;

    /// Counts records grouped by the integer values of `fields` (e.g. a 5×5 heat map).
    async fn count_by(
        &mut self,
        module: &str,
        fields: &[&'static str],
    ) -> Result<Vec<(Vec<Option<i64>>, i64)>>;

    async fn insert_record(
        &mut self,
        module: &str,
        record: &Record,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// Replaces the record if its stored version is still `expected_version`;
    /// [`StoreError::Conflict`] if it changed, [`StoreError::NotFound`] if it is gone.
    async fn update_record(
        &mut self,
        module: &str,
        record: &Record,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// Deletes the record and its transitions.
    async fn delete_record(
        &mut self,
        module: &str,
        id: RecordId,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// Keeps a status-flow move of an existing record (the record's update carries the audit
    /// entry, in the same transaction).
    async fn insert_transition(&mut self, module: &str, t: &RecordTransition) -> Result<()>;

    /// The record's moves, newest first, at most `limit`, without snapshots.
    async fn list_transitions(
        &mut self,
        module: &str,
        record_id: RecordId,
        limit: u32,
    ) -> Result<Vec<RecordTransition>>;

    /// One move of the record, with its snapshot.
    async fn get_transition(
        &mut self,
        module: &str,
        record_id: RecordId,
        id: TransitionId,
    ) -> Result<Option<RecordTransition>>;

    /// Keeps a comment on an existing record, with its audit entry.
    async fn insert_comment(
        &mut self,
        module: &str,
        c: &RecordComment,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// The record's comments, newest first, at most `limit`.
    /// Records a vote, replacing the voter's earlier one in the same round; audited.
    async fn put_vote(&mut self, module: &str, vote: &RecordVote, audit: &AuditDraft)
    -> Result<()>;

    /// The votes of one round on a record, oldest first.
    async fn list_votes(
        &mut self,
        module: &str,
        record_id: RecordId,
        round: tater_domain::TransitionId,
    ) -> Result<Vec<RecordVote>>;

    async fn list_comments(
        &mut self,
        module: &str,
        record_id: RecordId,
        limit: u32,
    ) -> Result<Vec<RecordComment>>;

    /// Every vote of the organization with its record's module, a page at a time in key
    /// order, after `after` (the full export reads them all).
    async fn page_all_votes(
        &mut self,
        after: Option<&VoteKey>,
        limit: u32,
    ) -> Result<Vec<(String, RecordVote)>>;

    /// Every move of the organization's records with its module and snapshot, a page at a
    /// time, by id, after `after` (the full export reads them all).
    async fn page_all_transitions(
        &mut self,
        after: Option<TransitionId>,
        limit: u32,
    ) -> Result<Vec<(String, RecordTransition)>>;

    /// Every comment of the organization with its record's module, a page at a time, by id.
    async fn page_all_comments(
        &mut self,
        after: Option<CommentId>,
        limit: u32,
    ) -> Result<Vec<(String, RecordComment)>>;
}

/// Links between records, and between a record and a control.
#[async_trait]
pub trait LinksTx: Send {
    /// Keeps a link between existing ends, with its audit entry; [`StoreError::Conflict`]
    /// when the two are linked already.
    async fn insert_link(&mut self, link: &RecordLink, audit: &AuditDraft) -> Result<()>;

    async fn get_link(&mut self, id: LinkId) -> Result<Option<RecordLink>>;

    /// Removes a link, with its audit entry; [`StoreError::NotFound`] if it is gone.
    async fn delete_link(&mut self, id: LinkId, audit: &AuditDraft) -> Result<()>;

    /// The links that have `end` at either end, newest first, at most `limit`.
    async fn list_links(&mut self, end: &LinkEnd, limit: u32) -> Result<Vec<RecordLink>>;

    /// The controls `module`'s records are linked to, as `(record, control)` pairs, at most
    /// `limit` (what a control's coverage counts).
    async fn control_links_of(
        &mut self,
        module: &str,
        limit: u32,
    ) -> Result<Vec<(RecordId, String)>>;

    /// Every link of the organization a page at a time, by id, after `after` (the full
    /// export reads them all).
    async fn page_all_links(
        &mut self,
        after: Option<LinkId>,
        limit: u32,
    ) -> Result<Vec<RecordLink>>;
}

/// The tenant's audit log.
#[async_trait]
pub trait AuditTx: Send {
    async fn list_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    /// A page of the audit log: at most `query.limit` entries and `max_bytes` of their
    /// changes (at least one entry), and whether more follow.
    async fn page_audit(
        &mut self,
        query: &AuditQuery,
        max_bytes: u64,
    ) -> Result<(Vec<AuditEntry>, bool)>;

    /// The tenant's audit head: the last sequence number and its hash (0 and the genesis hash
    /// for an empty log).
    async fn audit_head(&mut self) -> Result<(i64, String)>;

    /// The tenant's checkpoints with `after_seq < seq <= upto_seq`, oldest first.
    async fn audit_checkpoints(
        &mut self,
        after_seq: i64,
        upto_seq: i64,
    ) -> Result<Vec<tater_audit::Checkpoint>>;

    /// Records an event that changed no row but belongs in the audit log (a full data export).
    async fn record_event(&mut self, audit: &AuditDraft) -> Result<()>;

    /// Where the tenant's kept history starts, once its retention period deleted entries.
    async fn audit_start(&mut self) -> Result<Option<tater_audit::HistoryStart>>;

    /// Deletes the tenant's entries written before `before`, up to the last one no SIEM
    /// destination still waits for, and the checkpoints before the cut; records (signed) where
    /// the kept history now starts, dated `now`. What went, if anything. The caller audits it.
    async fn prune_audit(
        &mut self,
        before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<AuditPruned>>;
}

/// What pruning an audit log deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPruned {
    /// The last entry deleted: the kept history starts after it.
    pub through_seq: i64,
    pub entries: u64,
}

/// Audits' snapshots and auditor tokens (both go with their audit record).
#[async_trait]
pub trait AuditingTx: Send {
    /// Keeps a snapshot (its body as the compact JSON text its `sha256` is of) and writes
    /// `audit`.
    async fn insert_audit_snapshot(
        &mut self,
        snapshot: &tater_domain::AuditSnapshot,
        body: &str,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// An audit's snapshots, newest first, at most `limit`, without their bodies.
    async fn audit_snapshots(
        &mut self,
        audit: RecordId,
        limit: u32,
    ) -> Result<Vec<tater_domain::AuditSnapshot>>;
    /// One snapshot with its body (as stored, the text its hash is of).
    async fn audit_snapshot(
        &mut self,
        id: tater_domain::SnapshotId,
    ) -> Result<Option<(tater_domain::AuditSnapshot, String)>>;
    async fn insert_auditor_token(
        &mut self,
        token: &tater_domain::AuditorToken,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// An audit's tokens, newest first (revoked and expired ones too).
    async fn auditor_tokens(&mut self, audit: RecordId) -> Result<Vec<tater_domain::AuditorToken>>;
    /// Revokes a token not yet revoked and writes `audit`; [`StoreError::NotFound`] when
    /// there is none.
    async fn revoke_auditor_token(
        &mut self,
        id: tater_domain::AuditorTokenId,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// Records a file attached to an evidence record and writes `audit`.
    async fn insert_evidence_file(
        &mut self,
        file: &tater_domain::EvidenceFile,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// An evidence record's files, oldest first, at most `limit`.
    async fn evidence_files(
        &mut self,
        evidence: RecordId,
        limit: u32,
    ) -> Result<Vec<tater_domain::EvidenceFile>>;
    async fn evidence_file(
        &mut self,
        id: tater_domain::FileId,
    ) -> Result<Option<tater_domain::EvidenceFile>>;
    /// Removes a file's row and writes `audit`; [`StoreError::NotFound`] when there is none.
    async fn delete_evidence_file(
        &mut self,
        id: tater_domain::FileId,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// How many attachments of the tenant hold the bytes with this SHA-256.
    async fn file_references(&mut self, sha256: &str) -> Result<i64>;
    /// Counts an upload of these bytes as under way until it ends or `until` passes.
    async fn begin_blob_upload(&mut self, sha256: &str, until: Timestamp) -> Result<()>;
    /// An upload of these bytes ended (recorded or given up).
    async fn end_blob_upload(&mut self, sha256: &str) -> Result<()>;
    /// Whether the bytes may be deleted now: no attachment holds them and no upload of them
    /// is under way. Locks their row for the rest of the (write) transaction, so no upload of
    /// them starts until it ends; when it answers `true` the row is gone with the commit.
    async fn claim_unused_blob(&mut self, sha256: &str, now: Timestamp) -> Result<bool>;
}

/// Policies' published versions and their acknowledgements (both go with their policy).
#[async_trait]
pub trait PoliciesTx: Send {
    /// Keeps a published version (in the publishing move's transaction, whose entry names
    /// it); [`StoreError::Conflict`] when the policy has this version already.
    async fn insert_policy_version(&mut self, version: &tater_domain::PolicyVersion) -> Result<()>;
    /// A policy's versions, newest first, at most `limit`, without their bodies (`body`
    /// empty).
    async fn policy_versions(
        &mut self,
        policy: RecordId,
        limit: u32,
    ) -> Result<Vec<tater_domain::PolicyVersion>>;
    /// One version with its body.
    async fn policy_version(
        &mut self,
        policy: RecordId,
        version: u32,
    ) -> Result<Option<tater_domain::PolicyVersion>>;
    /// Marks every version of the policy retired at `at` (those not retired yet); how many.
    async fn retire_policy_versions(&mut self, policy: RecordId, at: Timestamp) -> Result<u64>;
    /// How many acknowledgements each of a policy's versions has, as `(version, count)`:
    /// all of them, or only those by the organization's current members.
    async fn acknowledgement_counts(
        &mut self,
        policy: RecordId,
        members_only: bool,
    ) -> Result<Vec<(u32, i64)>>;
    /// Records an acknowledgement and writes `audit`; `false` (and no entry) when this
    /// member had acknowledged this version already.
    async fn insert_policy_acknowledgement(
        &mut self,
        ack: &tater_domain::PolicyAcknowledgement,
        audit: &AuditDraft,
    ) -> Result<bool>;
    /// A version's acknowledgements, oldest first, at most `limit`.
    async fn policy_acknowledgements(
        &mut self,
        policy: RecordId,
        version: u32,
        limit: u32,
    ) -> Result<Vec<tater_domain::PolicyAcknowledgement>>;
    /// One member's acknowledgement of a version.
    async fn acknowledgement_of(
        &mut self,
        policy: RecordId,
        version: u32,
        user: tater_domain::UserId,
    ) -> Result<Option<tater_domain::PolicyAcknowledgement>>;
    /// The versions in force (each policy's newest, unless retired) that this member has not
    /// acknowledged, by title, at most `limit`, without their bodies.
    async fn unacknowledged_in_force(
        &mut self,
        user: tater_domain::UserId,
        limit: u32,
    ) -> Result<Vec<tater_domain::PolicyVersion>>;
}

/// Members, API keys and invitations of the tenant.
#[async_trait]
pub trait MembersTx: Send {
    async fn members(&mut self) -> Result<Vec<(Membership, User)>>;

    /// One member of this tenant (locked for update in a PostgreSQL write transaction).
    async fn member(&mut self, user: UserId) -> Result<Option<(Membership, User)>>;

    /// How many members hold one of `roles` (locked in write mode, for "last OrgAdmin" rules).
    async fn count_members_with(&mut self, roles: &[Role]) -> Result<i64>;

    /// Creates a user invited into this tenant; `audit` goes to this tenant's log.
    async fn insert_user(&mut self, user: &User, audit: &AuditDraft) -> Result<()>;

    /// Adds a member; [`StoreError::Conflict`] if they already are one.
    async fn add_member(&mut self, membership: &Membership, audit: &AuditDraft) -> Result<()>;

    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;

    async fn remove_member(&mut self, user: UserId, audit: &AuditDraft) -> Result<()>;

    /// API keys bound to this tenant, with their owners. (Unbound keys belong to the person,
    /// across all their organizations: no one organization's OrgAdmin manages them.)
    async fn api_keys(&mut self) -> Result<Vec<(ApiKey, User)>>;

    /// A key bound to this tenant, with its owner's role here (`None` when the owner is no
    /// longer a member); locked in write mode.
    async fn api_key_here(&mut self, id: ApiKeyId) -> Result<Option<(ApiKey, Option<Role>)>>;

    /// Stores a key bound to this tenant (whatever `key.org` says).
    async fn insert_api_key(&mut self, key: &ApiKey, audit: &AuditDraft) -> Result<()>;

    /// Revokes a key bound to this tenant; [`StoreError::NotFound`] for any other.
    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// The organization's invitations, newest first, at most `limit`.
    async fn invitations(&mut self, limit: u32) -> Result<Vec<Invitation>>;
    /// One invitation of this tenant (locked in write mode).
    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>>;
    /// The invitation of `email` still marked pending, if any (locked in write mode).
    async fn pending_invitation(&mut self, email: &Email) -> Result<Option<Invitation>>;
    /// Stores an invitation of this tenant; [`StoreError::Conflict`] when the address has one
    /// pending already.
    async fn insert_invitation(
        &mut self,
        invitation: &Invitation,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Moves a pending invitation of this tenant to `status`; [`StoreError::NotFound`] when
    /// it is not pending any more.
    async fn close_invitation(
        &mut self,
        id: InvitationId,
        status: InvitationStatus,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;
}

/// Enrolled endpoints and enrollment tokens.
#[async_trait]
pub trait EndpointsTx: Send {
    /// Deletes the enrollment tokens that expired or were revoked before `before`; how many.
    async fn delete_enrollment_tokens_ended_before(&mut self, before: Timestamp) -> Result<u64>;
    /// The organization's endpoint with this (lower-case) hostname.
    async fn endpoint_named(&mut self, hostname: &str) -> Result<Option<Endpoint>>;
    async fn enrollment_tokens(&mut self) -> Result<Vec<EnrollmentToken>>;
    /// Stores a token of this tenant (whatever `token.org` says).
    async fn insert_enrollment_token(
        &mut self,
        token: &EnrollmentToken,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn revoke_enrollment_token(
        &mut self,
        id: EnrollmentTokenId,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;

    /// Up to `query.limit + 1` endpoints, by hostname (bytewise on either engine).
    async fn endpoints(&mut self, query: &EndpointQuery) -> Result<Vec<Endpoint>>;
    /// Active endpoints counted: all, with a scan, and not seen since `seen_since` (or never).
    async fn endpoint_totals(&mut self, seen_since: Timestamp) -> Result<EndpointTotals>;
    async fn endpoint(&mut self, id: EndpointId) -> Result<Option<Endpoint>>;
    /// Replaces tags, status and credential if the version still matches.
    async fn update_endpoint(
        &mut self,
        endpoint: &Endpoint,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Deletes the endpoint with its scans and results.
    async fn delete_endpoint(&mut self, id: EndpointId, audit: &AuditDraft) -> Result<()>;
}

/// Scans, results and posture.
#[async_trait]
pub trait ScansTx: Send {
    async fn scan(&mut self, id: ScanId) -> Result<Option<Scan>>;
    /// Stores a scan and its results, and makes it the endpoint's latest scan if it finished
    /// after the current one.
    async fn insert_scan(
        &mut self,
        scan: &Scan,
        results: &[ScanResult],
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn scan_results(&mut self, scan: ScanId) -> Result<Vec<ScanResult>>;
    /// Scans finished in `[from, to)`, oldest first, at most `limit + 1`.
    async fn scans(
        &mut self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Scan>>;
    /// Counts of the latest results of active endpoints.
    async fn latest_result_counts(
        &mut self,
        group: ResultGroup,
        filter: &ResultFilter,
    ) -> Result<Vec<ResultCount>>;
    /// Latest results of active endpoints counted by check, status and severity, as kept
    /// current at write time (the same numbers as `latest_result_counts(Check, all)`).
    async fn posture_counts(&mut self) -> Result<Vec<ResultCount>>;
    /// Latest results of the active endpoints among `of` counted by endpoint, status and
    /// severity, from each latest scan's tally.
    async fn latest_tallies(&mut self, of: &[EndpointId]) -> Result<Vec<ResultCount>>;
    /// Latest results with status `status` of `checks` on every active endpoint (with
    /// evidence), at most `limit`.
    async fn latest_results_of(
        &mut self,
        checks: &[String],
        status: CheckStatus,
        limit: u32,
    ) -> Result<Vec<(EndpointId, ScanResult)>>;

    /// Latest results of active endpoints matching `filter`, ordered by hostname, endpoint
    /// and check, after `after`: at most `limit` rows and about `max_bytes` of evidence (at
    /// least one row), and whether more follow.
    async fn latest_results_page(
        &mut self,
        filter: &ResultFilter,
        after: Option<&ResultKey>,
        limit: u32,
        max_bytes: u64,
    ) -> Result<(Vec<LatestResult>, bool)>;
}

/// Script jobs and agent commands.
#[async_trait]
pub trait JobsTx: Send {
    /// Stores a job and its targets (all pending).
    async fn insert_job(
        &mut self,
        job: &tater_domain::Job,
        targets: &[tater_domain::JobTarget],
        audit: &AuditDraft,
    ) -> Result<()>;
    /// A job and how it stands on each endpoint.
    async fn job(
        &mut self,
        id: RecordId,
    ) -> Result<Option<(tater_domain::Job, Vec<tater_domain::JobTarget>)>>;
    /// Jobs newest first (by creation time, then id), each with its targets, created before
    /// `before`: at most `limit` jobs and about `max_bytes` of scripts and output (at least
    /// one job), and whether more follow.
    #[allow(clippy::type_complexity)]
    async fn jobs(
        &mut self,
        before: Option<(Timestamp, RecordId)>,
        limit: u32,
        max_bytes: u64,
    ) -> Result<(Vec<(tater_domain::Job, Vec<tater_domain::JobTarget>)>, bool)>;
    /// The pending commands of an endpoint, oldest first, now marked sent.
    async fn take_commands(
        &mut self,
        endpoint: EndpointId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<tater_domain::Job>>;
    /// Jobs with targets still pending, oldest first, each with those targets' hostnames:
    /// only `job`, or only jobs created before `created_before`, or any; at most `limit` jobs.
    /// Locked in write mode.
    async fn pending_targets(
        &mut self,
        job: Option<RecordId>,
        created_before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<(RecordId, Vec<String>)>>;
    /// Ends a job's still-pending targets as `status` (cancelled or expired) with `reason`;
    /// returns how many it ended, and writes `audit` only when that is more than none.
    async fn end_pending_targets(
        &mut self,
        job: RecordId,
        status: tater_domain::TargetStatus,
        reason: &str,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<u64>;
    /// Records an endpoint's outcome of a command it was sent; `NotFound` unless the command
    /// is this endpoint's and still awaiting its outcome.
    async fn finish_command(
        &mut self,
        job: RecordId,
        outcome: &tater_domain::JobTarget,
        audit: &AuditDraft,
    ) -> Result<()>;
}

/// The organization's settings kept as JSON documents, each read and replaced whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsDoc {
    /// Which MCP tools it offers, per role.
    McpPolicy,
    /// The retention periods it chose.
    Retention,
}

impl SettingsDoc {
    /// Its column of `org_settings`.
    pub(crate) fn column(self) -> &'static str {
        match self {
            SettingsDoc::McpPolicy => "mcp_policy",
            SettingsDoc::Retention => "retention_policy",
        }
    }
}

/// The organization's settings document.
#[async_trait]
pub trait SettingsTx: Send {
    /// The organization's settings (defaults when never saved); locked in write mode, so
    /// what a write transaction decides under them holds until it commits.
    async fn settings(&mut self) -> Result<OrgSettings>;
    async fn put_settings(
        &mut self,
        s: &OrgSettings,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// One of the organization's settings documents as stored (JSON), if it ever set it.
    async fn settings_doc(&mut self, doc: SettingsDoc) -> Result<Option<Value>>;
    async fn put_settings_doc(
        &mut self,
        doc: SettingsDoc,
        value: &Value,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// The organization's AI key (sealed) and model.
    async fn ai_settings(&mut self) -> Result<AiSettings>;
    async fn put_ai_settings(
        &mut self,
        ai: &AiSettings,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;
}

/// The AI analyst's conversations, their turns and proposed actions. Only these rows hold
/// prompts and replies; writing them is not audited (the audit log must never hold a prompt),
/// but creating and deleting a conversation is.
#[async_trait]
pub trait AiTx: Send {
    async fn insert_conversation(&mut self, c: &AiConversation, audit: &AuditDraft) -> Result<()>;
    /// `user`'s conversation with this id (another member's is not found); locked in write
    /// mode, so one message at a time is added to it.
    async fn conversation(
        &mut self,
        user: UserId,
        id: tater_domain::ConversationId,
    ) -> Result<Option<AiConversation>>;
    /// Takes `user`'s conversation for one question until `until`, unless another question
    /// holds it (a lease not yet run out at `now`); whether it was taken. Bookkeeping, not
    /// audited.
    async fn claim_conversation(
        &mut self,
        user: UserId,
        id: tater_domain::ConversationId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool>;
    /// Gives the conversation back (its question is answered, or failed).
    async fn release_conversation(&mut self, id: tater_domain::ConversationId) -> Result<()>;
    /// `user`'s conversations, the latest first, after `after` (the cursor: the last one of
    /// the previous page), up to `limit + 1`.
    async fn list_conversations(
        &mut self,
        user: UserId,
        after: Option<(Timestamp, tater_domain::ConversationId)>,
        limit: u32,
    ) -> Result<Vec<AiConversation>>;
    /// Deletes `user`'s conversation with its turns and actions; `NotFound` when there is none.
    async fn delete_conversation(
        &mut self,
        user: UserId,
        id: tater_domain::ConversationId,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// The conversation's turns in order, the last `limit` of them.
    async fn turns(
        &mut self,
        conversation: tater_domain::ConversationId,
        limit: u32,
    ) -> Result<Vec<AiTurn>>;
    /// Appends turns (their `seq` continues the conversation's), saves the conversation's
    /// title and time, and adds the tokens the round used to its counts.
    async fn append_turns(
        &mut self,
        c: &AiConversation,
        turns: &[AiTurn],
        input_tokens: i64,
        output_tokens: i64,
    ) -> Result<()>;
    async fn insert_action(&mut self, a: &AiAction) -> Result<()>;
    /// An action of one of `user`'s conversations (another member's is not found); locked in
    /// write mode.
    async fn action(
        &mut self,
        user: UserId,
        id: tater_domain::AiActionId,
    ) -> Result<Option<AiAction>>;
    /// The conversation's latest 500 actions, in the order they were proposed.
    async fn conversation_actions(
        &mut self,
        conversation: tater_domain::ConversationId,
    ) -> Result<Vec<AiAction>>;
    /// Records what became of a proposed action.
    async fn decide_action(&mut self, a: &AiAction) -> Result<()>;
    /// Marks the actions confirmed before `before` and still running (their server stopped
    /// mid-run) as failed with `result`; how many.
    async fn fail_stale_actions(
        &mut self,
        before: Timestamp,
        result: &Value,
        now: Timestamp,
    ) -> Result<u64>;
    /// Deletes up to `limit` conversations idle since before `before`; how many. `audit`
    /// records the deletion when there was one.
    async fn forget_conversations(
        &mut self,
        before: Timestamp,
        limit: u32,
        audit: &AuditDraft,
    ) -> Result<u64>;
    async fn insert_evidence_job(&mut self, job: &EvidenceJob, audit: &AuditDraft) -> Result<()>;
    /// A job; locked in write mode (one step at a time changes it).
    async fn evidence_job(
        &mut self,
        id: tater_domain::EvidenceJobId,
    ) -> Result<Option<EvidenceJob>>;
    /// Jobs, the newest first, after the cursor `after` (the last of the previous page), up
    /// to `limit + 1`.
    async fn list_evidence_jobs(
        &mut self,
        after: Option<(Timestamp, tater_domain::EvidenceJobId)>,
        limit: u32,
    ) -> Result<Vec<EvidenceJob>>;
    /// Saves a job's progress; with `audit` when a person changed it (a cancellation).
    async fn save_evidence_job(
        &mut self,
        job: &EvidenceJob,
        audit: Option<&AuditDraft>,
    ) -> Result<()>;
    /// Up to `limit` jobs made before `before`, the oldest first.
    async fn evidence_jobs_before(
        &mut self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<EvidenceJob>>;
    async fn delete_evidence_job(&mut self, id: tater_domain::EvidenceJobId) -> Result<()>;
}

/// SIEM destinations and their dead letters.
#[async_trait]
pub trait SiemTx: Send {
    /// Deletes the dead letters that were given up before `before`; how many.
    async fn delete_dead_letters_before(&mut self, before: Timestamp) -> Result<u64>;
    async fn insert_destination(
        &mut self,
        d: &tater_domain::Destination,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Replaces a destination if its version is still `expected_version`; it is tried again
    /// at once.
    async fn update_destination(
        &mut self,
        d: &tater_domain::Destination,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Deletes a destination and its queued entries.
    async fn delete_destination(
        &mut self,
        id: tater_domain::DestinationId,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn destinations(
        &mut self,
    ) -> Result<Vec<(tater_domain::Destination, tater_domain::DeliveryState)>>;
    /// One destination (locked in write mode).
    async fn destination(
        &mut self,
        id: tater_domain::DestinationId,
    ) -> Result<Option<(tater_domain::Destination, tater_domain::DeliveryState)>>;
    async fn dead_letters(
        &mut self,
        id: tater_domain::DestinationId,
        limit: u32,
    ) -> Result<Vec<DeadLetter>>;
    /// Queues a destination's dead letters again; returns how many (audited when any).
    async fn replay_dead_letters(
        &mut self,
        id: tater_domain::DestinationId,
        audit: &AuditDraft,
    ) -> Result<u64>;
}

/// Verifying an API key owner's identity by an emailed code (part of the identity
/// transaction: keys are the user's, across organizations).
#[async_trait]
pub trait VerificationTx: Send {
    /// Forgets the codes that expired before `before` (every organization's); how many.
    async fn delete_identity_codes_expired_before(&mut self, before: Timestamp) -> Result<u64>;
    /// The key, locked until the transaction ends (write mode), so that counting and issuing
    /// codes, or trying one, is one step however many requests race.
    async fn lock_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>>;
    /// How many codes were issued for `key` at or after `since`.
    async fn codes_issued_since(&mut self, key: ApiKeyId, since: Timestamp) -> Result<i64>;
    /// How many codes were issued for any key of `user` at or after `since`.
    async fn codes_issued_for_user_since(&mut self, user: UserId, since: Timestamp) -> Result<i64>;
    async fn insert_identity_code(
        &mut self,
        code: &IdentityCode,
        audits: &[(OrgId, AuditDraft)],
    ) -> Result<()>;
    /// The newest code issued for `key`, if any.
    async fn latest_identity_code(&mut self, key: ApiKeyId) -> Result<Option<IdentityCode>>;
    /// Counts one attempt against a code and writes `audits` (a failure is audited too).
    async fn count_code_attempt(
        &mut self,
        code: IdentityCodeId,
        audits: &[(OrgId, AuditDraft)],
    ) -> Result<()>;
    /// Writes audit entries that go with no other change (a refused verification).
    async fn record_audits(&mut self, audits: &[(OrgId, AuditDraft)]) -> Result<()>;
    /// Uses the code up and marks its key verified from `at` until `until`.
    async fn verify_api_key(
        &mut self,
        code: IdentityCodeId,
        at: Timestamp,
        until: Timestamp,
        audits: &[(OrgId, AuditDraft)],
    ) -> Result<()>;
}

/// The web application's sign-in sessions (part of the identity transaction: a session is a
/// person's, across organizations).
#[async_trait]
pub trait WebSessionTx: Send {
    async fn insert_web_session(&mut self, session: &WebSession) -> Result<()>;
    /// The session whose secret hashes to `id_hash`, if any (expired ones included: the
    /// caller judges time).
    async fn web_session(&mut self, id_hash: &str) -> Result<Option<WebSession>>;
    /// Records a request at `at` (the idle timeout counts from the last one).
    async fn touch_web_session(&mut self, id_hash: &str, at: Timestamp) -> Result<()>;
    /// Sets the organization the session works in.
    async fn set_web_session_org(&mut self, id_hash: &str, org: OrgId) -> Result<()>;
    /// Ends one session (sign-out).
    async fn delete_web_session(&mut self, id_hash: &str) -> Result<()>;
    /// Ends every session of `user` (sign out everywhere); how many there were.
    async fn delete_web_sessions_of(&mut self, user: UserId) -> Result<u64>;
    /// Forgets sessions whose absolute end is at or before `before`; how many.
    async fn delete_expired_web_sessions(&mut self, before: Timestamp) -> Result<u64>;
    /// Records one page view (platform telemetry, kept until its expiry).
    async fn record_page_view(&mut self, view: &tater_domain::PageView) -> Result<()>;
    /// Views per organization and page since `since`, most viewed first.
    async fn page_view_counts(&mut self, since: Timestamp) -> Result<Vec<(OrgId, String, i64)>>;
    /// Forgets page views whose expiry is at or before `before`; how many.
    async fn delete_expired_page_views(&mut self, before: Timestamp) -> Result<u64>;
    /// Forgets `org`'s page views made before `before` (its own retention period); how many.
    async fn delete_org_page_views(&mut self, org: OrgId, before: Timestamp) -> Result<u64>;
}

/// What deleting an organization removed: rows per table (largest first), and the accounts
/// that belonged to it alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgDeletion {
    pub rows: Vec<(String, u64)>,
}

/// A signed deletion certificate as kept, outside any tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    pub org: OrgId,
    pub org_name: String,
    /// The canonical JSON that was signed.
    pub payload: String,
    /// Base64 Ed25519 signature of `payload`.
    pub signature: String,
    pub key_id: String,
    pub deleted_at: Timestamp,
}

/// Terminating and deleting organizations (part of the identity transaction: it works across
/// tenants).
#[async_trait]
pub trait TerminationTx: Send {
    /// Marks the organization terminated at `at` (to be deleted after `delete_after`), or
    /// lifts the termination (`None`), with its audit entry. `NotFound` for no such
    /// organization.
    async fn set_org_termination(
        &mut self,
        org: OrgId,
        terminated: Option<(Timestamp, Timestamp)>,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Terminated organizations whose grace ended at or before `now`, oldest first.
    async fn orgs_due_for_deletion(&mut self, now: Timestamp, limit: u32) -> Result<Vec<Org>>;
    /// The storage keys of every file an organization holds (its evidence files' bytes).
    async fn org_file_digests(&mut self, org: OrgId) -> Result<Vec<String>>;
    /// Deletes every row of the organization in every table, and the accounts that were its
    /// alone; checks that no table still holds a row of it.
    async fn delete_org(&mut self, org: OrgId) -> Result<OrgDeletion>;
    async fn insert_deletion_certificate(&mut self, cert: &StoredCertificate) -> Result<()>;
    async fn deletion_certificate(&mut self, org: OrgId) -> Result<Option<StoredCertificate>>;
}

/// One organization's use of the platform, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgUsage {
    pub members: u64,
    pub endpoints: u64,
    /// Records per module, by module name.
    pub records: Vec<(String, u64)>,
    /// Bytes of evidence files kept (each stored content once).
    pub file_bytes: u64,
    pub audit_entries: u64,
    /// The time of its newest audit entry: the last change anyone made in it.
    pub last_activity: Option<Timestamp>,
}

/// The operator's view across organizations (part of the identity transaction).
#[async_trait]
pub trait UsageTx: Send {
    /// Every organization's usage, by organization (those with nothing counted are absent).
    async fn org_usage(&mut self) -> Result<std::collections::HashMap<OrgId, OrgUsage>>;
}

/// A transaction on identity data. Each write names the organizations whose audit logs record
/// it.
#[async_trait]
pub trait IdentityTx: VerificationTx + WebSessionTx + TerminationTx + UsageTx + Send {
    /// Stores (or replaces) an agent release and its bytes. Platform-wide data.
    async fn publish_release(&mut self, release: &AgentRelease, content: &[u8]) -> Result<()>;
    /// Every published release (without bytes).
    async fn releases(&mut self) -> Result<Vec<AgentRelease>>;
    /// One release (without bytes).
    async fn release(&mut self, key: &ReleaseKey) -> Result<Option<AgentRelease>>;
    /// Chunk `seq` of a release's bytes ([`RELEASE_CHUNK_BYTES`] each, the last one shorter).
    async fn release_chunk(&mut self, key: &ReleaseKey, seq: i64) -> Result<Option<Vec<u8>>>;

    /// Organizations with command-channel targets still pending (SPEC T2: a named operation
    /// over all tenants, for the job expiry sweep).
    async fn orgs_with_pending_jobs(&mut self) -> Result<Vec<OrgId>>;

    /// Checkpoints every tenant's audit head that has none yet (a system job; SPEC T2: a
    /// named operation over all tenants). Returns how many were written.
    async fn checkpoint_audit_heads(&mut self, now: Timestamp) -> Result<u64>;

    async fn org(&mut self, id: OrgId) -> Result<Option<Org>>;
    async fn org_by_name(&mut self, name: &str) -> Result<Option<Org>>;
    /// The organization that Entra ID tenant `tid` signs in to.
    async fn org_by_entra_tenant(&mut self, tid: &str) -> Result<Option<Org>>;
    async fn orgs(&mut self) -> Result<Vec<Org>>;
    /// Creates the organization and writes `audit` as the first entry of its log.
    async fn insert_org(&mut self, org: &Org, audit: &AuditDraft) -> Result<()>;

    async fn user(&mut self, id: UserId) -> Result<Option<User>>;
    async fn user_by_email(&mut self, email: &Email) -> Result<Option<User>>;
    /// Users linked to an Entra ID object id (one, unless the same oid was linked twice).
    async fn users_by_entra_oid(&mut self, oid: &str) -> Result<Vec<User>>;
    async fn insert_user(&mut self, user: &User, audits: &[(OrgId, AuditDraft)]) -> Result<()>;
    async fn update_user(&mut self, user: &User, audits: &[(OrgId, AuditDraft)]) -> Result<()>;

    async fn memberships_of(&mut self, user: UserId) -> Result<Vec<Membership>>;

    /// Invitations still marked pending that are addressed to `email`, in every organization,
    /// with the organization's name: the invitee's own view (SPEC T2, a named operation).
    async fn invitations_for(&mut self, email: &Email) -> Result<Vec<(Invitation, String)>>;
    /// One invitation by id, whatever its organization (locked in write mode); callers check
    /// it is addressed to whoever asks.
    async fn invitation_by_id(&mut self, id: InvitationId) -> Result<Option<Invitation>>;
    /// Moves a pending invitation to `status` (accepted by `user`, or declined) and writes
    /// `audit` to its organization; [`StoreError::NotFound`] when it is not pending any more.
    async fn decide_invitation(
        &mut self,
        invitation: &Invitation,
        status: InvitationStatus,
        at: Timestamp,
        user: Option<UserId>,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Creates or changes a membership; `audit` goes to the membership's organization.
    async fn put_membership(&mut self, membership: &Membership, audit: &AuditDraft) -> Result<()>;

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>>;
    async fn api_key_by_hash(&mut self, key_hash: &str) -> Result<Option<ApiKey>>;
    /// The key, its user and the user's memberships, in one query (authentication's hot path).
    async fn api_key_identity(
        &mut self,
        key_hash: &str,
    ) -> Result<Option<(ApiKey, User, Vec<Membership>)>>;
    /// For an Entra ID token: the organization onboarded for `tid` and the user linked to `oid`
    /// who is a member of it, with all that user's memberships — one query.
    async fn entra_identity(
        &mut self,
        tid: &str,
        oid: &str,
    ) -> Result<Option<(OrgId, User, Vec<Membership>)>>;
    /// The user and its memberships, in one query.
    async fn user_identity(&mut self, id: UserId) -> Result<Option<(User, Vec<Membership>)>>;
    async fn insert_api_key(&mut self, key: &ApiKey, audits: &[(OrgId, AuditDraft)]) -> Result<()>;
    /// Records when a key was last used. Bookkeeping, not a change of the key: not audited.
    async fn touch_api_key(&mut self, id: ApiKeyId, now: Timestamp) -> Result<()>;

    async fn enrollment_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<EnrollmentToken>>;
    /// An auditor token by the SHA-256 of its secret, whatever its organization (its
    /// holder is nobody's member: the token names the organization).
    async fn auditor_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<tater_domain::AuditorToken>>;
    async fn endpoint_by_hostname(
        &mut self,
        org: OrgId,
        hostname: &str,
    ) -> Result<Option<Endpoint>>;
    /// Enrolls `endpoint` in the token's organization (or, when `existed`, gives the active
    /// endpoint at version `endpoint.version - 1` its new credential and facts, clearing any
    /// re-enrolment allowance; [`StoreError::NotFound`] when it is no longer that), counts
    /// the token's use ([`StoreError::Conflict`] when it is used up), and writes `audit`.
    async fn enroll_endpoint(
        &mut self,
        token: &EnrollmentToken,
        endpoint: &Endpoint,
        existed: bool,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// An active endpoint by the SHA-256 of its agent credential.
    async fn endpoint_by_credential(&mut self, credential_hash: &str) -> Result<Option<Endpoint>>;
    /// Records that an endpoint was seen. Bookkeeping: not audited.
    async fn touch_endpoint(&mut self, org: OrgId, id: EndpointId, now: Timestamp) -> Result<()>;

    async fn commit(self: Box<Self>) -> Result<()>;
}

/// JSON stored for a record's data.
pub(crate) fn data_json(record: &Record) -> Value {
    Value::Object(record.data.clone())
}

/// The size of a JSON value as stored (its compact text), for byte-bounded pages.
pub(crate) fn json_size(v: &Value) -> i64 {
    serde_json::to_vec(v).map_or(0, |b| b.len() as i64)
}

/// How many of the leading rows (with these sizes, in page order) fit a page of at most
/// `limit` rows and `max_bytes` bytes — always at least one, so a single large row still
/// moves a client forward — and whether more rows follow.
pub fn fit_page(sizes: &[i64], limit: u32, max_bytes: u64) -> (usize, bool) {
    let mut page = PageFit::new(limit, max_bytes);
    let n = sizes.iter().take_while(|size| page.admits(**size)).count();
    (n, sizes.len() > n)
}

/// A page of at most `limit` rows and `max_bytes` bytes, filled row by row in page order
/// (the rule of [`fit_page`], for a read that stops at the first row that does not fit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageFit {
    limit: usize,
    max_bytes: u64,
    rows: usize,
    bytes: u64,
}

impl PageFit {
    /// A page of `limit` rows, at least one (so a client always moves forward; the store's
    /// statements ask for `limit + 1` rows, which with a limit of 0 is one, too).
    pub(crate) fn new(limit: u32, max_bytes: u64) -> Self {
        Self {
            limit: usize::try_from(limit.max(1)).unwrap_or(usize::MAX),
            max_bytes,
            rows: 0,
            bytes: 0,
        }
    }

    /// Whether the next row, of `size` bytes, joins the page (and it is counted if so). Once
    /// one does not, the page is complete. Nonsense sizes count as 0.
    pub(crate) fn admits(&mut self, size: i64) -> bool {
        let size = u64::try_from(size).unwrap_or(0);
        let bytes = self.bytes.saturating_add(size);
        if self.rows >= self.limit || (self.rows > 0 && bytes > self.max_bytes) {
            return false;
        }
        self.rows += 1;
        self.bytes = bytes;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::fit_page;

    #[test]
    fn pages_stop_at_rows_or_bytes() {
        assert_eq!(fit_page(&[], 50, 100), (0, false));
        assert_eq!(fit_page(&[10, 10, 10], 50, 100), (3, false));
        assert_eq!(fit_page(&[10, 10, 10], 2, 100), (2, true));
        assert_eq!(fit_page(&[60, 60, 10], 50, 100), (1, true));
        assert_eq!(
            fit_page(&[500, 1], 50, 100),
            (1, true),
            "one large row still comes"
        );
        assert_eq!(fit_page(&[50, 50, 1], 50, 100), (2, true), "exactly full");
        assert_eq!(
            fit_page(&[10], 0, 100),
            (1, false),
            "a page holds a row at least"
        );
        assert_eq!(
            fit_page(&[-5, 1], 50, 100),
            (2, false),
            "nonsense sizes count as 0"
        );
    }
}
