//! The command channel (server side): Admins run library scripts, or a failing check's
//! remediation, on endpoints — only when the organization turned `remoteExecution` on, and
//! each agent still decides for its own machine. Jobs are audited; agents fetch their
//! commands and report outcomes with their own credential.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tater_domain::modules::SCRIPTS;
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, Channel, CheckStatus, Job, JobTarget, OrgId, RecordId,
    TargetStatus, Timestamp, ValidationErrors,
};
use tater_store::{Mode, TenantTx};

use crate::paging::{PAGE_BYTES, next_cursor, parse_cursor};
use crate::{Service, ServiceError, ServiceResult};

/// Endpoints one job may target.
pub const MAX_TARGETS: usize = 500;
/// Output kept per stream, as the agent caps it.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// A refusal's or failure's reason, as an agent reports it.
const MAX_REASON_BYTES: usize = 1024;
/// Commands handed to an agent per poll.
const COMMANDS_PER_POLL: u32 = 20;

/// A command-channel job and how it went on each endpoint.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: RecordId,
    pub name: String,
    /// The library script and its version that ran; `null` for a check's remediation.
    pub script_id: Option<RecordId>,
    pub script_version: Option<i64>,
    /// The check whose remediation this is, if any.
    pub check_id: Option<String>,
    pub language: String,
    pub run_as: String,
    pub timeout_secs: i64,
    /// Audit `userId` of who asked.
    pub created_by: String,
    pub created_at: Timestamp,
    /// How many endpoints stand at each status.
    pub counts: BTreeMap<TargetStatus, usize>,
    pub targets: Vec<JobTarget>,
}

/// The jobs a control's remediation started, and its failing checks that have no script.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Remediation {
    pub control: String,
    pub jobs: Vec<JobView>,
    pub failing_without_script: Vec<String>,
}

pub fn job_view(job: &Job, targets: &[JobTarget]) -> JobView {
    let counts = targets.iter().fold(BTreeMap::new(), |mut m, t| {
        *m.entry(t.status).or_default() += 1;
        m
    });
    JobView {
        id: job.id,
        name: job.name.clone(),
        script_id: job.script_id,
        script_version: job.script_version,
        check_id: job.check_id.clone(),
        language: job.language.clone(),
        run_as: job.run_as.clone(),
        timeout_secs: job.timeout_secs,
        created_by: job.created_by.clone(),
        created_at: job.created_at,
        counts,
        targets: targets.to_vec(),
    }
}

/// What the agent receives: what to run, never who asked.
/// A command as its agent receives it: the script to run and how.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentCommand {
    pub job_id: RecordId,
    pub name: String,
    pub language: String,
    pub run_as: String,
    pub timeout_secs: i64,
    pub content: String,
}

fn command_view(job: &Job) -> AgentCommand {
    AgentCommand {
        job_id: job.id,
        name: job.name.clone(),
        language: job.language.clone(),
        run_as: job.run_as.clone(),
        timeout_secs: job.timeout_secs,
        content: job.content.clone(),
    }
}

impl Service {
    async fn require_remote_execution(&self, tx: &mut dyn TenantTx) -> ServiceResult<()> {
        if tx.settings().await?.remote_execution {
            Ok(())
        } else {
            Err(ServiceError::FeatureDisabled(
                "remote execution is off for this organization; an OrgAdmin can turn it on in PUT /api/settings",
            ))
        }
    }

    /// Runs a library script on endpoints named by hostname: `{"targets": ["host", ...]}`.
    pub async fn execute_script(
        &self,
        actor: &Actor,
        script_id: &str,
        body: &Value,
    ) -> ServiceResult<JobView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let script_id: RecordId = script_id.parse().map_err(|_| ServiceError::NotFound)?;
        let hostnames = parse_targets(body)?;
        let mut tx = self.store.tenant(&permit).await?;
        let script = tx
            .get_record(SCRIPTS.name, script_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.require_remote_execution(&mut *tx).await?;
        let mut targets = Vec::new();
        let mut unknown = Vec::new();
        for h in &hostnames {
            match tx.endpoint_named(h).await? {
                Some(e) if e.status == "active" => {
                    targets.push(JobTarget::pending(e.id, e.hostname))
                }
                _ => unknown.push(h.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(ValidationErrors::single(
                "targets",
                format!("no active endpoint named {}", unknown.join(", ")),
            )
            .into());
        }
        let text = |k: &str| {
            script
                .data
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let job = Job {
            id: RecordId::generate(),
            org: actor.org(),
            name: text("name"),
            script_id: Some(script_id),
            script_version: Some(script.meta.version),
            check_id: None,
            language: text("language"),
            run_as: if text("runAs").is_empty() {
                "root".into()
            } else {
                text("runAs")
            },
            timeout_secs: script
                .data
                .get("timeoutSecs")
                .and_then(Value::as_i64)
                .unwrap_or(60),
            content: text("content"),
            created_by: actor.audit_user_id(),
            created_at: self.now(),
        };
        self.store_job(actor, tx, job, targets).await
    }

    async fn store_job(
        &self,
        actor: &Actor,
        mut tx: Box<dyn TenantTx>,
        job: Job,
        targets: Vec<JobTarget>,
    ) -> ServiceResult<JobView> {
        let after = json!({
            "name": job.name, "scriptId": job.script_id, "scriptVersion": job.script_version, "checkId": job.check_id,
            "targets": targets.iter().map(|t| t.hostname.clone()).collect::<Vec<_>>(),
        });
        let audit = AuditDraft::new(actor, AuditAction::Create, "job", job.id, job.created_at)
            .with_changes(None, Some(&after), &[]);
        tx.insert_job(&job, &targets, &audit).await?;
        let (job, targets) = tx.job(job.id).await?.ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        Ok(job_view(&job, &targets))
    }

    /// Runs the remediation scripts of the checks failing a control on the endpoints where
    /// they fail: one job per check. Checks without a script are listed, not run.
    pub async fn remediate_control(
        &self,
        actor: &Actor,
        control: &str,
    ) -> ServiceResult<Remediation> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let catalog = self.catalog()?;
        let control = catalog
            .control(control)
            .ok_or(ServiceError::NotFound)?
            .id
            .clone();
        let checks = self.check_catalog()?;
        let mapped: Vec<&tater_catalog::Check> = checks
            .checks()
            .iter()
            .filter(|c| c.controls.contains(&control))
            .collect();
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        self.require_remote_execution(&mut *tx).await?;
        let ids: Vec<String> = mapped.iter().map(|c| c.id.clone()).collect();
        let failing = tx
            .latest_results_of(&ids, CheckStatus::Fail, 10_000)
            .await?;
        drop(tx);
        let mut jobs = Vec::new();
        let mut without_script = Vec::new();
        for check in mapped {
            let endpoints: HashSet<_> = failing
                .iter()
                .filter(|(_, r)| r.check_id == check.id)
                .map(|(e, _)| *e)
                .collect();
            if endpoints.is_empty() {
                continue;
            }
            let Some(script) = &check.remediation_script else {
                without_script.push(check.id.clone());
                continue;
            };
            let mut tx = self.store.tenant(&permit).await?;
            // Again in the transaction that stores the job: the switch may have been turned
            // off since the check above.
            self.require_remote_execution(&mut *tx).await?;
            let mut targets = Vec::new();
            for e in endpoints.into_iter().take(MAX_TARGETS) {
                if let Some(ep) = tx.endpoint(e).await? {
                    targets.push(JobTarget::pending(ep.id, ep.hostname));
                }
            }
            let job = Job {
                id: RecordId::generate(),
                org: actor.org(),
                name: format!("Remediate {}: {}", check.id, check.title),
                script_id: None,
                script_version: None,
                check_id: Some(check.id.clone()),
                // Windows checks' scripts are PowerShell, run as the agent's service account.
                language: if check.platforms.iter().any(|p| p == "windows") {
                    "powershell".into()
                } else {
                    "bash".into()
                },
                run_as: "root".into(),
                timeout_secs: 600,
                content: script.clone(),
                created_by: actor.audit_user_id(),
                created_at: self.now(),
            };
            jobs.push(self.store_job(actor, tx, job, targets).await?);
        }
        Ok(Remediation {
            control,
            jobs,
            failing_without_script: without_script,
        })
    }

    /// The command channel's history, newest first: `limit` (1–500, default 50), `cursor`.
    pub async fn list_jobs(
        &self,
        actor: &Actor,
        query: &crate::use_cases::Paging,
    ) -> ServiceResult<crate::Page<JobView>> {
        // Jobs carry the scripts they ran and their output: readable as the scripts are.
        let permit = authorize(actor, Action::ReadRecords(SCRIPTS.read_role))?;
        let mut errors = ValidationErrors::new();
        let limit = query.page_size(&mut errors);
        let before = query
            .cursor
            .as_deref()
            .and_then(|c| parse_cursor(c, decode_job_cursor, &mut errors));
        errors.into_result(())?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let (jobs, more) = tx.jobs(before, limit, PAGE_BYTES).await?;
        let next_cursor = next_cursor(&jobs, more, |(j, _)| {
            format!("{}.{}", j.created_at.millis(), j.id)
        });
        Ok(crate::Page {
            items: jobs.iter().map(|(j, t)| job_view(j, t)).collect(),
            next_cursor,
        })
    }

    pub async fn get_job(&self, actor: &Actor, id: &str) -> ServiceResult<JobView> {
        // Jobs carry the scripts they ran and their output: readable as the scripts are.
        let permit = authorize(actor, Action::ReadRecords(SCRIPTS.read_role))?;
        let id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let (job, targets) = tx.job(id).await?.ok_or(ServiceError::NotFound)?;
        Ok(job_view(&job, &targets))
    }

    /// An agent's pending commands (now marked sent). The organization's switch and the job
    /// lifetime are checked here, at delivery, not only when a job is created: a command that
    /// is no longer allowed is never handed out.
    pub async fn agent_commands(&self, actor: &Actor) -> ServiceResult<Vec<AgentCommand>> {
        let permit = authorize(actor, Action::AgentReport)?;
        let endpoint = actor.endpoint_id().ok_or(ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit).await?;
        let open = self.stop_what_may_not_run(&mut *tx, actor.org()).await?;
        let jobs = if open {
            tx.take_commands(endpoint, self.now(), COMMANDS_PER_POLL)
                .await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok(jobs.iter().map(command_view).collect())
    }

    /// Cancels a job's targets that are still pending (Admin, audited). Commands already sent
    /// cannot be recalled; 409 when nothing is left to cancel.
    pub async fn cancel_job(&self, actor: &Actor, id: &str) -> ServiceResult<JobView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit).await?;
        tx.job(id).await?.ok_or(ServiceError::NotFound)?;
        let reason = format!("cancelled by {}", actor.audit_upn());
        let ended = end_pending(
            &mut *tx,
            actor,
            Some(id),
            None,
            TargetStatus::Cancelled,
            &reason,
            self.now(),
        )
        .await?;
        if ended == 0 {
            return Err(ServiceError::Conflict(
                "no target of this job is still pending; commands already sent cannot be recalled"
                    .into(),
            ));
        }
        let (job, targets) = tx.job(id).await?.ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        Ok(job_view(&job, &targets))
    }

    /// The job expiry sweep (a named system operation over every organization with pending
    /// commands): pending targets older than the job lifetime become `expired`, and any still
    /// pending where remote execution is off become `cancelled`. Audited in each organization
    /// through the `cron` channel. Returns how many targets it ended.
    pub async fn expire_overdue_jobs(&self) -> ServiceResult<u64> {
        let orgs = {
            let mut tx = self.store.identity(Mode::Read).await?;
            tx.orgs_with_pending_jobs().await?
        };
        let mut ended = 0;
        for org in orgs {
            let system = job_sweeper(org, "job lifetime and remote-execution switch");
            let permit = authorize(&system, Action::WriteRecord)?;
            let mut tx = self.store.tenant(&permit).await?;
            ended += self.stop_pending_in(&mut *tx, org).await?;
            tx.commit().await?;
        }
        Ok(ended)
    }

    /// Ends what may no longer run in the organization (see [`Service::stop_pending_in`]);
    /// whether the command channel is open.
    async fn stop_what_may_not_run(
        &self,
        tx: &mut dyn TenantTx,
        org: OrgId,
    ) -> ServiceResult<bool> {
        self.stop_pending_in(tx, org).await?;
        Ok(tx.settings().await?.remote_execution)
    }

    /// Expires pending targets past the job lifetime, and cancels every pending target when
    /// remote execution is off; both attributed to the system through `cron`.
    async fn stop_pending_in(&self, tx: &mut dyn TenantTx, org: OrgId) -> ServiceResult<u64> {
        let now = self.now();
        if !tx.settings().await?.remote_execution {
            let system = job_sweeper(org, "remote execution is off");
            return end_pending(
                tx,
                &system,
                None,
                None,
                TargetStatus::Cancelled,
                REMOTE_EXECUTION_OFF,
                now,
            )
            .await;
        }
        let ttl = self.compliance.job_ttl_secs;
        let system = job_sweeper(org, format!("job lifetime {} h", ttl / 3600));
        let reason = format!("not fetched by the agent within {} hours", ttl / 3600);
        end_pending(
            tx,
            &system,
            None,
            Some(now.plus_seconds(-ttl)),
            TargetStatus::Expired,
            &reason,
            now,
        )
        .await
    }

    /// An agent's outcome of a command: `{status, exitCode?, stdout?, stderr?, durationMs?, reason?}`.
    pub async fn agent_command_result(
        &self,
        actor: &Actor,
        job_id: &str,
        body: &Value,
    ) -> ServiceResult<()> {
        let permit = authorize(actor, Action::AgentReport)?;
        let endpoint = actor.endpoint_id().ok_or(ServiceError::NotFound)?;
        let job: RecordId = job_id.parse().map_err(|_| ServiceError::NotFound)?;
        let outcome = parse_outcome(body, endpoint)?;
        let now = self.now();
        let outcome = JobTarget {
            finished_at: Some(now),
            ..outcome
        };
        let audit = AuditDraft::new(actor, AuditAction::Update, "job", job, now).with_changes(
            None,
            Some(&json!({ "endpointId": endpoint, "status": outcome.status.as_str(), "exitCode": outcome.exit_code })),
            &[],
        );
        let mut tx = self.store.tenant(&permit).await?;
        tx.finish_command(job, &outcome, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Why targets are cancelled when an organization turns remote execution off.
const REMOTE_EXECUTION_OFF: &str = "remote execution was turned off for the organization";
/// Pending jobs ended per store call; the sweep repeats until none are left.
const END_BATCH: u32 = 200;

/// The system actor of the job expiry sweep.
fn job_sweeper(org: OrgId, detail: impl Into<String>) -> Actor {
    Actor::system("job-expiry", detail, org, Channel::Cron)
}

/// Ends pending targets (of `job`, or of jobs created before `created_before`, or all) as
/// `status` with `reason`, one audit entry per job naming the hosts; how many it ended.
pub(crate) async fn end_pending(
    tx: &mut dyn TenantTx,
    actor: &Actor,
    job: Option<RecordId>,
    created_before: Option<tater_domain::Timestamp>,
    status: TargetStatus,
    reason: &str,
    now: tater_domain::Timestamp,
) -> ServiceResult<u64> {
    let mut ended = 0;
    loop {
        let batch = tx.pending_targets(job, created_before, END_BATCH).await?;
        if batch.is_empty() {
            return Ok(ended);
        }
        for (id, hosts) in batch {
            let audit = AuditDraft::new(actor, AuditAction::Update, "job", id, now).with_changes(
                Some(&json!({ "pending": hosts })),
                Some(&json!({ status.as_str(): hosts, "reason": reason })),
                &[],
            );
            ended += tx
                .end_pending_targets(id, status, reason, now, &audit)
                .await?;
        }
    }
}

fn parse_targets(body: &Value) -> ServiceResult<Vec<String>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ValidationErrors::single("body", "must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| k.as_str() != "targets") {
        return Err(
            ValidationErrors::single(k.as_str(), "is not a field (expected only targets)").into(),
        );
    }
    let list = obj
        .get("targets")
        .and_then(Value::as_array)
        .filter(|a| (1..=MAX_TARGETS).contains(&a.len()))
        .ok_or_else(|| {
            ValidationErrors::single(
                "targets",
                format!("must be a list of 1 to {MAX_TARGETS} hostnames"),
            )
        })?;
    let mut out: Vec<String> = Vec::new();
    for v in list {
        let h = v
            .as_str()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty() && s.len() <= 253);
        match h {
            Some(h) if !out.contains(&h) => out.push(h),
            Some(_) => {}
            None => {
                return Err(
                    ValidationErrors::single("targets", "every target must be a hostname").into(),
                );
            }
        }
    }
    Ok(out)
}

fn parse_outcome(body: &Value, endpoint: tater_domain::EndpointId) -> ServiceResult<JobTarget> {
    let empty = Map::new();
    let obj = body.as_object().unwrap_or(&empty);
    let mut errors = ValidationErrors::new();
    const FIELDS: [&str; 6] = [
        "status",
        "exitCode",
        "stdout",
        "stderr",
        "durationMs",
        "reason",
    ];
    for k in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.add(k.as_str(), "is not a field");
    }
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<TargetStatus>().ok())
        .filter(|s| s.is_reportable());
    if status.is_none() {
        errors.add("status", "must be succeeded, failed, timedOut or refused");
    }
    let text = |k: &str, max: usize, errors: &mut ValidationErrors| match obj.get(k) {
        None | Some(Value::Null) => None,
        // Scripts may print NUL; PostgreSQL text cannot hold it, so both engines store U+FFFD
        // (three bytes for one): what is kept is cut back to the limit afterwards.
        Some(Value::String(s)) if s.len() <= max + 64 => {
            Some(truncate_at(s.replace('\0', "\u{fffd}"), max))
        }
        Some(_) => {
            errors.add(k, format!("must be text of at most {max} bytes"));
            None
        }
    };
    let (stdout, stderr, reason) = (
        text("stdout", MAX_OUTPUT_BYTES, &mut errors),
        text("stderr", MAX_OUTPUT_BYTES, &mut errors),
        text("reason", MAX_REASON_BYTES, &mut errors),
    );
    let int = |k: &str| obj.get(k).and_then(Value::as_i64);
    errors
        .into_result(JobTarget {
            endpoint,
            hostname: String::new(),
            status: status.unwrap_or(TargetStatus::Failed),
            exit_code: int("exitCode"),
            stdout,
            stderr,
            duration_ms: int("durationMs"),
            reason,
            sent_at: None,
            finished_at: None,
        })
        .map_err(Into::into)
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncate_at(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A jobs cursor: `<created-at millis>.<job id>` of the last job of the previous page.
fn decode_job_cursor(s: &str) -> Option<(tater_domain::Timestamp, RecordId)> {
    let (at, id) = s.split_once('.')?;
    Some((
        tater_domain::Timestamp::from_millis(at.parse().ok()?),
        id.parse().ok()?,
    ))
}
