//! The background job runner: one queue of work in the database (`runner_jobs`) that every
//! replica works from.
//!
//! * Work is queued under an **idempotency key** that is unique for ever: several replicas
//!   planning the same reminder queue it once, and a done job keeps its key, so it is not
//!   planned again.
//! * A runner **leases** the jobs it takes, and renews a job's lease while the job runs (a
//!   third of the lease at a time), so work that waits long, such as an Evidence Agent step
//!   on the model, is never taken over while it still runs. A replica that dies stops
//!   renewing and loses its leases when they run out; another runs the job again: execution
//!   is at least once, so every job checks, when it runs, that its work is still wanted (a
//!   task done since, an exception already ended) and does nothing otherwise.
//! * Time comes from the injectable clock; the runner's loop only decides how often to look.
//!
//! What runs: every hour a plan per organization ([`Work::PlanOrg`]) queues the exceptions
//! whose approved period ended ([`Work::ExpireException`]) or ends soon
//! ([`Work::ExceptionTask`], see `expiring_exceptions.rs`) and the due-date reminders the
//! modules declare ([`Work::Remind`], see `reminders.rs`); the plan also deletes the analyst
//! conversations idle past their retention (`ai_conversations.rs`).

use serde::{Deserialize, Serialize};
use tater_domain::module::{ListQuery, Record, parse_list_query};
use tater_domain::{Actor, Channel, Mode, OrgId, RecordId, Timestamp, authorize};
use tater_store::{NewRunnerJob, RunnerJob};
use time::Date;

use crate::reminders::Reminder;
use crate::{Service, ServiceError, ServiceResult};

/// How a runner works: who it is, how long its leases last, how much it takes at once.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Unique per running server (names its leases).
    pub owner: String,
    /// How long a job is this runner's before another may take it over. Longer than a
    /// batch takes (a reminder's delivery is bounded to 30 s).
    pub lease_secs: i64,
    /// Jobs taken per round.
    pub batch: u32,
    /// How often a running job's lease is renewed (a third of the lease by default: two
    /// renewals can fail before another runner may take the job over).
    pub renew_every: std::time::Duration,
}

impl RunnerOptions {
    /// A runner with a fresh name and the default lease and batch.
    pub fn new() -> Self {
        Self::leasing(600)
    }

    /// A runner with a fresh name whose leases last `lease_secs`.
    pub fn leasing(lease_secs: i64) -> Self {
        Self {
            owner: format!("runner-{}", RecordId::generate()),
            lease_secs,
            batch: 10,
            renew_every: std::time::Duration::from_secs((lease_secs / 3).max(1).unsigned_abs()),
        }
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// How much of its lease a job needs left to start: a reminder's delivery, the commonest
/// job, is bounded to this. Jobs not started by then go back to the queue: their leases are
/// not renewed until they run. (A running job's lease is renewed, whatever it waits on.)
pub const JOB_TIME_LIMIT_SECS: i64 = 30;

/// Attempts before a job is given up and kept as failed.
pub const MAX_ATTEMPTS: i64 = 6;
/// Records one plan looks at per module and organization (oldest due first).
const PLAN_LIMIT: usize = 5_000;
const PLAN_PAGE: u32 = 500;

/// A unit of background work, stored as its JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub(crate) enum Work {
    /// Queues one [`Work::PlanOrg`] per organization (once an hour).
    Plan { hour: String },
    /// Queues what is due in one organization.
    PlanOrg { org: OrgId, hour: String },
    /// An approved exception whose requested end date passed becomes Expired.
    ExpireException {
        org: OrgId,
        exception: RecordId,
        until: String,
    },
    /// An approved exception that ends soon gets a renewal task.
    ExceptionTask {
        org: OrgId,
        exception: RecordId,
        until: String,
    },
    /// The Evidence Agent's work on one control of a job (`evidence_agent.rs`); queues the
    /// next control's when done.
    EvidenceStep {
        org: OrgId,
        job: tater_domain::EvidenceJobId,
        index: usize,
    },
    /// Emails the person a record names that its date is near, or has passed.
    Remind(Reminder),
}

impl Work {
    fn kind(&self) -> &'static str {
        match self {
            Work::Plan { .. } => "plan",
            Work::PlanOrg { .. } => "planOrg",
            Work::ExpireException { .. } => "expireException",
            Work::ExceptionTask { .. } => "exceptionTask",
            Work::Remind(_) => "remind",
            Work::EvidenceStep { .. } => "evidenceStep",
        }
    }

    fn org(&self) -> Option<OrgId> {
        match self {
            Work::Plan { .. } => None,
            Work::PlanOrg { org, .. }
            | Work::ExpireException { org, .. }
            | Work::ExceptionTask { org, .. }
            | Work::Remind(Reminder { org, .. })
            | Work::EvidenceStep { org, .. } => Some(*org),
        }
    }

    /// The key that makes this work happen once.
    fn key(&self) -> String {
        match self {
            Work::Plan { hour } => format!("plan:{hour}"),
            Work::PlanOrg { org, hour } => format!("plan:{hour}:{org}"),
            Work::ExpireException {
                org,
                exception,
                until,
            } => format!("expire-exception:{org}:{exception}:{until}"),
            Work::ExceptionTask {
                org,
                exception,
                until,
            } => format!("exception-task:{org}:{exception}:{until}"),
            Work::Remind(r) => r.key(),
            Work::EvidenceStep { org, job, index } => format!("evidence-job:{org}:{job}:{index}"),
        }
    }
}

/// Why a job did not finish.
pub(crate) struct Failure {
    pub message: String,
    /// Worth another attempt later (a relay or database that may come back).
    pub retry: bool,
}

impl Failure {
    pub(crate) fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: true,
        }
    }
}

impl From<ServiceError> for Failure {
    /// Worth another attempt only when the trouble may pass (the database, a race with
    /// another writer, a limit); a refusal of the work itself would only repeat.
    fn from(e: ServiceError) -> Self {
        let retry = matches!(
            e,
            ServiceError::Internal(_)
                | ServiceError::Conflict(_)
                | ServiceError::UnavailableCode(..)
                | ServiceError::TooManyCode(..)
        );
        Failure {
            message: e.to_string(),
            retry,
        }
    }
}

impl From<tater_store::StoreError> for Failure {
    fn from(e: tater_store::StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<tater_domain::policy::Denied> for Failure {
    fn from(e: tater_domain::policy::Denied) -> Self {
        ServiceError::from(e).into()
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerRound {
    pub finished: usize,
    pub failed: usize,
}

/// The wait before attempt `attempts + 1`: 1, 4, 16, 64 minutes...
fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 6) - 1).unwrap_or(0);
    60_000 * 4_i64.pow(exp)
}

fn hour_of(now: Timestamp) -> String {
    now.to_string().chars().take(13).collect()
}

/// The system actor of background work in `org`: audited as `system:runner`, via `cron`.
pub(crate) fn runner_actor(org: OrgId, what: &str) -> Actor {
    Actor::system("runner", what, org, Channel::Cron)
}

impl Service {
    /// Queues `work` unless its key was ever queued.
    pub(crate) async fn enqueue(&self, work: &Work, run_at: Timestamp) -> ServiceResult<bool> {
        let payload = serde_json::to_value(work).map_err(|e| ServiceError::Internal(e.into()))?;
        let job = NewRunnerJob {
            org: work.org(),
            kind: work.kind().into(),
            idempotency_key: work.key(),
            payload,
            run_at,
        };
        let mut tx = self.store.runner().await?;
        let new = tx.enqueue(&job, self.now()).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// One round of the runner: queues this hour's plan (once across replicas), then takes
    /// the jobs that are due and runs them one after another.
    pub async fn run_work(&self, options: &RunnerOptions) -> ServiceResult<RunnerRound> {
        let now = self.now();
        self.enqueue(&Work::Plan { hour: hour_of(now) }, now)
            .await?;
        let mut tx = self.store.runner().await?;
        let jobs = tx
            .claim(
                &options.owner,
                now,
                options.lease_secs.saturating_mul(1000),
                options.batch,
            )
            .await?;
        tx.commit().await?;
        // A job starts only while its lease outlasts a reminder's delivery, so another runner
        // does not take over a reminder still being sent here; the rest of the round goes back.
        let last_start = now
            .plus_seconds(options.lease_secs)
            .plus_seconds(-JOB_TIME_LIMIT_SECS);
        let mut round = RunnerRound::default();
        for job in jobs {
            if self.now() > last_start {
                let mut tx = self.store.runner().await?;
                let given_back = tx.release_all(&options.owner).await?;
                tx.commit().await?;
                tracing::info!(
                    jobs = given_back,
                    "the lease is nearly over: jobs not started are given back"
                );
                break;
            }
            if self.run_job(&job, options).await? {
                round.finished += 1;
            } else {
                round.failed += 1;
            }
        }
        Ok(round)
    }

    /// Runs a leased job, renewing its lease while it runs, and records how it went; whether
    /// it finished.
    async fn run_job(&self, job: &RunnerJob, options: &RunnerOptions) -> ServiceResult<bool> {
        let owner = options.owner.as_str();
        let _renewing = self.renew_while_running(job, options);
        let outcome = if job.attempts > MAX_ATTEMPTS {
            Err(Failure {
                message: format!("given up after {MAX_ATTEMPTS} attempts"),
                retry: false,
            })
        } else {
            match serde_json::from_value::<Work>(job.payload.clone()) {
                Ok(work) => self.perform(work).await,
                Err(e) => Err(Failure {
                    message: format!("unreadable job: {e}"),
                    retry: false,
                }),
            }
        };
        let now = self.now();
        let mut tx = self.store.runner().await?;
        let finished = match outcome {
            Ok(()) => {
                if !tx.finish(&job.id, owner, now).await? {
                    tracing::warn!(job = %job.idempotency_key, "a job outlived its lease; another runner may have run it too");
                }
                true
            }
            Err(f) => {
                let retry_at = (f.retry && job.attempts < MAX_ATTEMPTS)
                    .then(|| now.plus_millis(backoff_ms(job.attempts)));
                tracing::warn!(job = %job.idempotency_key, attempts = job.attempts, error = %f.message, retry = retry_at.is_some(), "background job failed");
                let error: String = f.message.chars().take(1000).collect();
                tx.fail(&job.id, owner, &error, now, retry_at).await?;
                false
            }
        };
        tx.commit().await?;
        Ok(finished)
    }

    /// Renews `job`'s lease every `options.renew_every` until the returned guard drops. A
    /// task of its own, so a renewal never waits on the job's own (suspended) transaction.
    fn renew_while_running(&self, job: &RunnerJob, options: &RunnerOptions) -> AbortOnDrop {
        let service = self.clone();
        let (id, key) = (job.id.clone(), job.idempotency_key.clone());
        let (owner, lease_secs, every) = (
            options.owner.clone(),
            options.lease_secs,
            options.renew_every,
        );
        AbortOnDrop(tokio::spawn(async move {
            // The first tick is at once: a job that starts late in its round has less than
            // `every` of the claim's lease left.
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let until = service.now().plus_seconds(lease_secs);
                let renewed = async {
                    let mut tx = service.store.runner().await?;
                    let held = tx.renew(&id, &owner, until).await?;
                    tx.commit().await?;
                    Ok::<bool, tater_store::StoreError>(held)
                }
                .await;
                match renewed {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %key, "a running job's lease is no longer held (it just ended, or another runner took it over and it may run twice)");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(job = %key, error = %e, "could not renew a running job's lease")
                    }
                }
            }
        }))
    }

    async fn perform(&self, work: Work) -> Result<(), Failure> {
        match work {
            Work::Plan { hour } => self.plan_orgs(&hour).await,
            Work::PlanOrg { org, .. } => self.plan_org(org).await,
            Work::ExpireException {
                org,
                exception,
                until,
            } => self.expire_exception(org, exception, &until).await,
            Work::ExceptionTask {
                org,
                exception,
                until,
            } => self.open_exception_task(org, exception, &until).await,
            Work::Remind(reminder) => self.remind(&reminder).await,
            Work::EvidenceStep { org, job, index } => self.evidence_step(org, job, index).await,
        }
    }

    /// Gives back this runner's leases (a clean stop): another replica takes its jobs at once.
    pub async fn release_work(&self, options: &RunnerOptions) -> ServiceResult<u64> {
        let mut tx = self.store.runner().await?;
        let released = tx.release_all(&options.owner).await?;
        tx.commit().await?;
        Ok(released)
    }

    /// Where the job with `key` stands (`queued`, `running`, `done`, `failed`, its attempts
    /// and last error), for tests and operators.
    pub async fn runner_job_state(
        &self,
        key: &str,
    ) -> ServiceResult<Option<tater_store::RunnerJobState>> {
        let mut tx = self.store.runner().await?;
        Ok(tx.job_state(key).await?)
    }

    /// How many jobs are due or running now (none: the runners are idle).
    pub async fn runner_jobs_pending(&self) -> ServiceResult<i64> {
        let mut tx = self.store.runner().await?;
        Ok(tx.unfinished(self.now()).await?)
    }

    async fn plan_orgs(&self, hour: &str) -> Result<(), Failure> {
        // Past hours' plans can never be planned again: their rows go after two days (the
        // keys of reminders and expiries stay, they are what makes those once-only).
        let before = self.now().plus_seconds(-2 * 86_400);
        let mut tx = self.store.runner().await?;
        for kind in ["plan", "planOrg"] {
            tx.prune_done(kind, before).await?;
        }
        tx.commit().await?;
        let orgs = {
            let mut tx = self.store.identity(Mode::Read).await?;
            tx.orgs().await?
        };
        let now = self.now();
        // A terminated organization plans nothing (its queued work is not claimed either).
        for org in orgs.into_iter().filter(|o| o.termination.is_none()) {
            let work = Work::PlanOrg {
                org: org.id,
                hour: hour.to_owned(),
            };
            self.enqueue(&work, now).await?;
        }
        Ok(())
    }

    /// Queues what is due in `org`: exceptions to end or to renew, reminders to send.
    async fn plan_org(&self, org: OrgId) -> Result<(), Failure> {
        let today = self.today();
        // Retention failing must not hold up the rest of the plan (it is tried again next hour).
        if let Err(e) = self.sweep_org_retention(org).await {
            tracing::warn!(%org, error = %e, "the retention sweep failed");
        }
        self.plan_exceptions(org, today).await?;
        self.plan_reminders(org, today).await
    }

    /// The records of `def` in `org` that match `filters` (and their `sort`; oldest first
    /// without one), at most [`PLAN_LIMIT`] (the rest wait for the next plan).
    pub(crate) async fn scan_records(
        &self,
        org: OrgId,
        def: &'static tater_domain::module::ModuleDef,
        filters: &[(&str, String)],
    ) -> Result<Vec<Record>, Failure> {
        let mut params: Vec<(String, String)> = filters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        if !params.iter().any(|(k, _)| k == "sort") {
            params.push(("sort".into(), "createdAt".into()));
        }
        params.push(("limit".into(), PLAN_PAGE.to_string()));
        let mut query: ListQuery =
            parse_list_query(def, &params, self.today(), &[]).map_err(|e| Failure {
                message: format!("planning query: {e:?}"),
                retry: false,
            })?;
        let actor = runner_actor(org, "plan");
        let permit = authorize(&actor, tater_domain::Action::ReadRecords(def.read_role))?;
        let mut found = Vec::new();
        loop {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            let (rows, more) = tx
                .page_records(def.name, &query, crate::paging::PAGE_BYTES)
                .await?;
            let last = rows.last().map(|r| tater_domain::module::PageCursor {
                value: query.sort.value_of(r),
                id: r.meta.id,
            });
            found.extend(rows);
            match last {
                Some(cursor) if more && found.len() < PLAN_LIMIT => query.after = Some(cursor),
                _ => break,
            }
        }
        found.truncate(PLAN_LIMIT);
        Ok(found)
    }
}

/// Days from `today` to `date` (negative when past).
pub(crate) fn days_until(today: Date, date: Date) -> i64 {
    (date - today).whole_days()
}

/// Aborts its task when dropped (the job it renews for ended, or its runner went away).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
