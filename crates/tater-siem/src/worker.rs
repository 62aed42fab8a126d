//! The delivery worker: drains each destination's outbox in sequence order.
//!
//! * **Leases.** Each round claims a few due destinations (`claim_due`: on PostgreSQL with
//!   `FOR UPDATE SKIP LOCKED`) and holds them for `lease`; several `tater serve` replicas on one
//!   database therefore never deliver to the same destination at once, and a crashed replica's
//!   lease simply runs out.
//! * **Order.** Entries go out oldest first; a failed entry blocks the ones behind it (retried
//!   with exponential backoff and full jitter, or after `Retry-After`), so a SIEM never sees
//!   entry N+1 before entry N. Nothing is dropped: a destination that keeps failing is shown as
//!   failing after `failing_after` and its entries keep queueing.
//! * **Dead letters.** An entry the receiver refuses for good (webhook 400/413/422) is kept as a
//!   dead letter, visible and replayable, and delivery goes on.
//! * **Restarts.** All state is in the database: a restarted server picks up where it stopped.
//!   Stopping is a signal, not an abort: the worker finishes the batch in flight and records
//!   it, so no lease claim can commit after [`Worker::release_leases`] has given the leases back.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tater_domain::{Clock, Timestamp};
use tater_store::{DueDestination, Store};
use tokio::sync::watch;

use crate::deliver::{Failure, Sender, Target};
use crate::destination::{Spec, secret_context, stored_spec};
use crate::entry::Event;
use crate::secret_box::SecretBox;

/// Knobs of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Sleep between rounds when nothing was due.
    pub poll: Duration,
    pub lease: Duration,
    /// Entries per batch.
    pub batch: u32,
    /// Destinations claimed per round.
    pub claim: u32,
    /// First retry delay; doubles with each failure, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            batch: 100,
            claim: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
        }
    }
}

/// The worker. Run it with [`Worker::run`] in a task; signal its `stop` channel and await the
/// task to stop it, then call [`Worker::release_leases`].
pub struct Worker {
    store: Arc<dyn Store>,
    sender: Sender,
    secrets: SecretBox,
    config: WorkerConfig,
    clock: Arc<dyn Clock>,
    /// Names this worker's leases: a fresh id per worker, so two never share one.
    owner: String,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        sender: Sender,
        secrets: SecretBox,
        config: WorkerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            sender,
            secrets,
            config,
            clock,
            owner: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Runs rounds until `stop` turns true (or its sender is gone). Errors (the database
    /// away, say) are logged and retried.
    ///
    /// Why not abort the task instead: an abort can land while a lease claim's COMMIT is on
    /// the wire. PostgreSQL then commits it after `release_leases` has already looked for (and
    /// not yet seen) that lease, and a restarted server waits out the whole lease.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !stopping(&stop) {
            let pause = match self.round_until(&stop).await {
                Ok(0) => self.config.poll,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "SIEM delivery round failed");
                    self.config.poll * 4
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Gives back this worker's leases, so another replica (or this server restarted) can
    /// deliver at once instead of waiting for them to run out. Call after stopping `run`.
    pub async fn release_leases(&self) -> Result<u64, tater_store::StoreError> {
        let mut tx = self.store.delivery().await?;
        let n = tx.release_all(&self.owner).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// One round: claim due destinations and deliver to them concurrently. Returns how many
    /// destinations were served.
    pub async fn round(&self) -> Result<usize, tater_store::StoreError> {
        let (_keep, never) = watch::channel(false);
        self.round_until(&never).await
    }

    /// A round that ends each destination's delivery early, after the batch in flight, once
    /// `stop` turns true.
    async fn round_until(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<usize, tater_store::StoreError> {
        let now = self.clock.now();
        let lease_ms = self.config.lease.as_millis() as i64;
        let mut tx = self.store.delivery().await?;
        let due = tx
            .claim_due(&self.owner, now, lease_ms, self.config.claim)
            .await?;
        tx.commit().await?;
        let n = due.len();
        let rounds = due.into_iter().map(|d| self.serve(d, stop));
        for result in futures::future::join_all(rounds).await {
            if let Err(e) = result {
                tracing::error!(error = %e, "SIEM delivery failed to record its progress");
            }
        }
        Ok(n)
    }

    /// Delivers batches to one destination until its queue is empty, a delivery fails, half
    /// the lease has passed, or the worker is stopping.
    async fn serve(
        &self,
        due: DueDestination,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), tater_store::StoreError> {
        let started = self.clock.now();
        let target = match self.target(&due) {
            Ok(t) => t,
            Err(error) => {
                let retry = self.retry_at(due.attempts, None);
                return self.record_failure(&due, None, &error, retry).await;
            }
        };
        // Stopping is checked before each batch too: a destination claimed just before the
        // signal starts nothing new.
        while !stopping(stop) {
            let mut tx = self.store.delivery().await?;
            let entries = tx.pending(due.org, due.id, self.config.batch).await?;
            tx.commit().await?;
            if entries.is_empty() {
                break;
            }
            let events: Vec<Event> = entries.iter().map(Event::of).collect();
            let sent = self.sender.send(&target, &events).await;
            let now = self.clock.now();
            let mut tx = self.store.delivery().await?;
            if sent.accepted > 0 {
                let through = entries[sent.accepted - 1].seq;
                tx.delivered(due.org, due.id, through, sent.accepted as i64, now)
                    .await?;
            }
            let failed_seq = entries.get(sent.accepted).map(|e| e.seq);
            let failed = match (sent.failure, failed_seq) {
                (Some(Failure::Dead { error }), Some(seq)) => {
                    tracing::warn!(destination = %due.id, seq, %error, "SIEM entry refused for good: kept as a dead letter");
                    tx.dead(due.org, due.id, seq, &error, now).await?;
                    false
                }
                (Some(Failure::Retry { error, retry_after }), Some(seq)) => {
                    let retry = self.retry_at(due.attempts, retry_after);
                    tracing::warn!(destination = %due.id, seq, %error, retry_at = %retry, "SIEM delivery failed; will retry");
                    tx.failed(due.org, due.id, seq, &error, now, retry).await?;
                    true
                }
                _ => false,
            };
            tx.commit().await?;
            let lease_half = self.config.lease.as_millis() as i64 / 2;
            let lease_spent = self.clock.now().millis() - started.millis() > lease_half;
            if failed || lease_spent || stopping(stop) {
                break;
            }
        }
        let mut tx = self.store.delivery().await?;
        tx.release(due.org, due.id, &self.owner).await?;
        tx.commit().await
    }

    async fn record_failure(
        &self,
        due: &DueDestination,
        seq: Option<i64>,
        error: &str,
        retry: Timestamp,
    ) -> Result<(), tater_store::StoreError> {
        let mut tx = self.store.delivery().await?;
        tx.failed(
            due.org,
            due.id,
            seq.unwrap_or(0),
            error,
            self.clock.now(),
            retry,
        )
        .await?;
        tx.release(due.org, due.id, &self.owner).await?;
        tx.commit().await
    }

    /// The destination's settings and decrypted secret.
    fn target(&self, due: &DueDestination) -> Result<Target, String> {
        let spec = stored_spec(due.kind, &due.config)
            .ok_or_else(|| "the stored settings cannot be read".to_owned())?;
        let secret = match (&spec, &due.secret_enc) {
            (Spec::Webhook { .. }, Some(enc)) => Some(
                self.secrets
                    .open(
                        &secret_context(&due.org.to_string(), &due.id.to_string()),
                        enc,
                    )
                    .map_err(|e| e.to_string())?,
            ),
            (Spec::Webhook { .. }, None) => return Err("the webhook has no secret".into()),
            _ => None,
        };
        Ok(Target {
            id: due.id.to_string(),
            spec,
            secret,
        })
    }

    /// When to try again after `attempts` earlier failures: exponential backoff with full
    /// jitter (a random delay up to the doubled base, at least a tenth of it), or the
    /// receiver's `Retry-After` when longer, capped at one hour.
    fn retry_at(&self, attempts: i64, retry_after: Option<Duration>) -> Timestamp {
        let exp = attempts.clamp(0, 20) as u32;
        let ceiling = self
            .config
            .base_backoff
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.config.max_backoff);
        let ms = ceiling.as_millis().max(1) as u64;
        let jittered = rand::rng().random_range(ms / 10..=ms);
        let asked = retry_after.map_or(0, |d| d.min(Duration::from_secs(3600)).as_millis() as u64);
        let delay = jittered.max(asked) as i64;
        self.clock.now().plus_millis(delay)
    }
}

/// True once the stop signal is given, or its sender is dropped (nobody can stop us any more,
/// so the server is going away).
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}
